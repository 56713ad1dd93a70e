package rpm

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
)

// MergeUpdateinfo merges two updateinfo.xml documents: the vendor's own
// advisories and the upstream's that a mirror carries. Each <update> is
// copied byte for byte; an upstream advisory whose ID the vendor also
// published is left out, so the vendor's word wins. Either may be nil.
func MergeUpdateinfo(upstream, vendor []byte) ([]byte, error) {
	if upstream == nil {
		return vendor, nil
	}
	up, err := updates(upstream)
	if err != nil {
		return nil, fmt.Errorf("the upstream's updateinfo: %w", err)
	}
	var own []update
	if vendor != nil {
		if own, err = updates(vendor); err != nil {
			return nil, fmt.Errorf("the vendor's updateinfo: %w", err)
		}
	}
	seen := make(map[string]bool, len(own))
	for _, u := range own {
		seen[u.id] = true
	}
	var b bytes.Buffer
	b.WriteString(`<?xml version="1.0" encoding="UTF-8"?>` + "\n<updates>\n")
	for _, u := range own {
		b.Write(u.raw)
		b.WriteByte('\n')
	}
	for _, u := range up {
		if u.id != "" && seen[u.id] {
			continue
		}
		b.Write(u.raw)
		b.WriteByte('\n')
	}
	b.WriteString("</updates>\n")
	return b.Bytes(), nil
}

// update is one <update> element of an updateinfo document, as written.
type update struct {
	id  string
	raw []byte
}

// updates cuts the <update> elements out of an updateinfo document.
func updates(doc []byte) ([]update, error) {
	dec := xml.NewDecoder(bytes.NewReader(doc))
	dec.Strict = false
	var out []update
	depth := 0
	var cur *update
	var start int64
	inID := false
	for {
		off := dec.InputOffset()
		tok, err := dec.RawToken()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, err
		}
		switch t := tok.(type) {
		case xml.StartElement:
			depth++
			switch {
			case depth == 1 && t.Name.Local != "updates":
				return nil, fmt.Errorf("the root element is <%s>, not <updates>", t.Name.Local)
			case depth == 2 && t.Name.Local == "update":
				cur, start = &update{}, off
			case depth == 3 && cur != nil && t.Name.Local == "id":
				inID = true
			}
		case xml.EndElement:
			if depth == 2 && cur != nil {
				cur.raw = doc[start:dec.InputOffset()]
				out = append(out, *cur)
				cur = nil
			}
			inID = false
			depth--
		case xml.CharData:
			if inID {
				cur.id += string(bytes.TrimSpace(t))
			}
		}
	}
	if depth != 0 {
		return nil, errors.New("the document ends inside an element")
	}
	return out, nil
}
