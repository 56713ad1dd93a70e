package sbom

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"fmt"

	spdxjson "github.com/spdx/tools-golang/json"
)

// SPDX XML.
//
// SPDX 2.3 has no XML schema; the XML serialisation that the SPDX reference
// tools (tools-java) read and write, and that spdx-spec's
// examples/SPDXXMLExample-v2.3.spdx.xml shows, is the JSON format spelt as
// XML: root element <Document>, one element per JSON member with the same
// name, an array written as that element repeated once per item, objects as
// nested elements, booleans as true/false.
//
// tools-golang has no XML writer, so this one streams the SPDX JSON that
// tools-golang writes for the same model into that shape with encoding/xml.
// Deriving the XML from the JSON keeps the two formats equal by construction
// (same fields, same values, same order) whatever the model grows.

const spdxXMLRoot = "Document"

func (p *prepared) writeSPDXXML(buf *bytes.Buffer) error {
	var js bytes.Buffer
	if err := spdxjson.Write(p.spdxDocument(false), &js, spdxjson.EscapeHTML(false)); err != nil {
		return err
	}
	buf.WriteString(xml.Header)
	enc := xml.NewEncoder(buf)
	enc.Indent("", "  ")
	if err := jsonToXML(json.NewDecoder(&js), enc, spdxXMLRoot); err != nil {
		return fmt.Errorf("sbom: spdx xml: %w", err)
	}
	if err := enc.Close(); err != nil {
		return err
	}
	buf.WriteByte('\n')
	return nil
}

// jsonToXML writes the JSON value read from dec as element name (repeated
// for arrays).
func jsonToXML(dec *json.Decoder, enc *xml.Encoder, name string) error {
	dec.UseNumber()
	tok, err := dec.Token()
	if err != nil {
		return err
	}
	start := xml.StartElement{Name: xml.Name{Local: name}}
	switch v := tok.(type) {
	case json.Delim:
		switch v {
		case '{':
			if err := enc.EncodeToken(start); err != nil {
				return err
			}
			for dec.More() {
				keyTok, err := dec.Token()
				if err != nil {
					return err
				}
				key, ok := keyTok.(string)
				if !ok {
					return fmt.Errorf("unexpected JSON token %v", keyTok)
				}
				if err := jsonToXML(dec, enc, key); err != nil {
					return err
				}
			}
			if _, err := dec.Token(); err != nil { // '}'
				return err
			}
			return enc.EncodeToken(start.End())
		case '[':
			for dec.More() {
				if err := jsonToXML(dec, enc, name); err != nil {
					return err
				}
			}
			_, err := dec.Token() // ']'
			return err
		}
		return fmt.Errorf("unexpected JSON delimiter %v", v)
	case nil:
		return nil
	case string:
		return enc.EncodeElement(v, start)
	case json.Number:
		return enc.EncodeElement(v.String(), start)
	case bool:
		return enc.EncodeElement(v, start)
	}
	return fmt.Errorf("unexpected JSON token %T", tok)
}
