package rpm

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/xml"
	"errors"
	"fmt"
	"hash"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/klauspost/compress/gzip"

	"github.com/enmei-project/enmei/internal/sign"
)

// Entry renders one package's repodata entries — its <package> elements of
// primary.xml, filelists.xml and other.xml, as createrepo_c writes them — in
// one opaque value the store keeps, so later publishes never re-read the RPM.
func Entry(h *Header, sha256hex string, size int64, href string, fileTime int64) ([]byte, error) {
	epoch := "0"
	if h.HasEpoch {
		epoch = strconv.Itoa(h.Epoch)
	}
	version := `<version epoch="` + epoch + `" ver="` + esc(h.Version) + `" rel="` + esc(h.Release) + `"/>`

	var p strings.Builder
	p.WriteString("<package type=\"rpm\">\n  <name>" + esc(h.Name) + "</name>\n  <arch>" + esc(h.Arch) + "</arch>\n  " + version + "\n")
	p.WriteString(`  <checksum type="sha256" pkgid="YES">` + sha256hex + "</checksum>\n")
	p.WriteString("  <summary>" + esc(h.Summary) + "</summary>\n  <description>" + esc(h.Description) + "</description>\n")
	p.WriteString("  <packager>" + esc(h.Packager) + "</packager>\n  <url>" + esc(h.URL) + "</url>\n")
	fmt.Fprintf(&p, "  <time file=\"%d\" build=\"%d\"/>\n  <size package=\"%d\" installed=\"%d\" archive=\"%d\"/>\n",
		fileTime, h.BuildTime, size, h.InstalledSize, h.ArchiveSize)
	p.WriteString(`  <location href="` + esc(href) + "\"/>\n  <format>\n")
	p.WriteString("    <rpm:license>" + esc(h.License) + "</rpm:license>\n    <rpm:vendor>" + esc(h.Vendor) + "</rpm:vendor>\n")
	p.WriteString("    <rpm:group>" + esc(h.Group) + "</rpm:group>\n    <rpm:buildhost>" + esc(h.BuildHost) + "</rpm:buildhost>\n")
	p.WriteString("    <rpm:sourcerpm>" + esc(h.SourceRPM) + "</rpm:sourcerpm>\n")
	fmt.Fprintf(&p, "    <rpm:header-range start=\"%d\" end=\"%d\"/>\n", h.HeaderStart, h.HeaderEnd)
	files := map[string]bool{}
	for _, f := range h.Files {
		files[f.Path] = true
	}
	writeDeps(&p, "provides", h.Provides, nil, false)
	writeDeps(&p, "requires", h.Requires, files, true)
	writeDeps(&p, "conflicts", h.Conflicts, nil, false)
	writeDeps(&p, "obsoletes", h.Obsoletes, nil, false)
	writeDeps(&p, "suggests", h.Suggests, nil, false)
	writeDeps(&p, "enhances", h.Enhances, nil, false)
	writeDeps(&p, "recommends", h.Recommends, nil, false)
	writeDeps(&p, "supplements", h.Supplements, nil, false)
	for _, f := range h.Files {
		if primaryFile(f.Path) {
			p.WriteString("    " + fileElem(f) + "\n")
		}
	}
	p.WriteString("  </format>\n</package>\n")

	ident := ` pkgid="` + sha256hex + `" name="` + esc(h.Name) + `" arch="` + esc(h.Arch) + `">` + "\n  " + version + "\n"
	var f strings.Builder
	f.WriteString("<package" + ident)
	for _, file := range h.Files {
		f.WriteString("  " + fileElem(file) + "\n")
	}
	f.WriteString("</package>\n")

	var o strings.Builder
	o.WriteString("<package" + ident)
	for _, c := range h.Changelogs {
		fmt.Fprintf(&o, "  <changelog author=\"%s\" date=\"%d\">%s</changelog>\n", esc(c.Author), c.Date, esc(c.Text))
	}
	o.WriteString("</package>\n")
	return encodeEntry(p.String(), f.String(), o.String()), nil
}

func fileElem(f FileEntry) string {
	if f.Type != "" {
		return `<file type="` + f.Type + `">` + esc(f.Path) + "</file>"
	}
	return "<file>" + esc(f.Path) + "</file>"
}

// primaryFile is createrepo_c's rule for the files listed in primary.xml.
func primaryFile(p string) bool {
	return strings.HasPrefix(p, "/etc/") || strings.Contains(p, "bin/") || p == "/usr/lib/sendmail"
}

func writeDeps(b *strings.Builder, name string, deps []Dep, ownFiles map[string]bool, requires bool) {
	seen := map[string]bool{}
	var lines []string
	for _, d := range deps {
		if d.Name == "" || (requires && ownFiles[d.Name]) {
			continue // rpmlib() and self-satisfied file requires, like createrepo_c
		}
		line := `      <rpm:entry name="` + esc(d.Name) + `"`
		if d.Flags != "" {
			line += ` flags="` + d.Flags + `" epoch="` + esc(d.Epoch) + `" ver="` + esc(d.Version) + `"`
			if d.Release != "" {
				line += ` rel="` + esc(d.Release) + `"`
			}
		}
		if requires && d.Pre {
			line += ` pre="1"`
		}
		line += "/>"
		if seen[line] {
			continue
		}
		seen[line] = true
		lines = append(lines, line)
	}
	if len(lines) == 0 {
		return
	}
	b.WriteString("    <rpm:" + name + ">\n")
	for _, l := range lines {
		b.WriteString(l + "\n")
	}
	b.WriteString("    </rpm:" + name + ">\n")
}

func esc(s string) string {
	var b bytes.Buffer
	xml.EscapeText(&b, []byte(s))
	return b.String()
}

func encodeEntry(parts ...string) []byte {
	n := 0
	for _, p := range parts {
		n += 4 + len(p)
	}
	out := make([]byte, 0, n)
	for _, p := range parts {
		out = binary.BigEndian.AppendUint32(out, uint32(len(p)))
		out = append(out, p...)
	}
	return out
}

func decodeEntry(b []byte) ([3][]byte, error) {
	var parts [3][]byte
	for i := range parts {
		if len(b) < 4 {
			return parts, errors.New("stored rpm entry is damaged")
		}
		n := binary.BigEndian.Uint32(b)
		b = b[4:]
		if uint32(len(b)) < n {
			return parts, errors.New("stored rpm entry is damaged")
		}
		parts[i], b = b[:n], b[n:]
	}
	return parts, nil
}

// File is one generated repository file.
type File struct {
	Path string
	Data []byte
}

var kinds = [3]struct{ name, open, close string }{
	{"primary", `<metadata xmlns="http://linux.duke.edu/metadata/common" xmlns:rpm="http://linux.duke.edu/metadata/rpm" packages="%d">` + "\n", "</metadata>\n"},
	{"filelists", `<filelists xmlns="http://linux.duke.edu/metadata/filelists" packages="%d">` + "\n", "</filelists>\n"},
	{"other", `<otherdata xmlns="http://linux.duke.edu/metadata/other" packages="%d">` + "\n", "</otherdata>\n"},
}

type built struct {
	gz             []byte
	sum, openSum   string
	size, openSize int
}

// Extra is an additional repodata document listed in repomd.xml: updateinfo
// (the advisories dnf shows), modules (modules.yaml, EL8/9 modularity) or
// group (comps, listed both plain and as group_gz).
type Extra struct {
	Type string // repomd data type: "updateinfo", "modules", "group", …
	XML  []byte // the document, uncompressed (YAML for modules)
}

// Repodata builds repodata/ for the given entries (from Entry): primary,
// filelists and other (gzip, named by their sha256), any extra documents
// (gzip, likewise), repomd.xml, and its detached armored signature
// repomd.xml.asc.
func Repodata(entries [][]byte, extra []Extra, key *sign.Key, now time.Time) ([]File, error) {
	return RepodataFrom(len(entries), func(yield func([]byte) error) error {
		for _, e := range entries {
			if err := yield(e); err != nil {
				return err
			}
		}
		return nil
	}, extra, key, now)
}

// streamChunk is how many entries are decoded and written at a time: the
// three documents are written side by side, a chunk at a time, so memory
// holds one chunk and the compressed output, whatever the repository's size.
const streamChunk = 512

// RepodataFrom is Repodata for n entries that each hands over in order, so
// a repository of any size is written without all its entries in memory.
// Entries are kept until written (a chunk at a time): their bytes must not
// be reused by the caller.
func RepodataFrom(n int, each func(yield func(entry []byte) error) error, extra []Extra, key *sign.Key, now time.Time) ([]File, error) {
	var writers [3]*xmlWriter
	for k := range kinds {
		w, err := newXMLWriter(k, n)
		if err != nil {
			return nil, err
		}
		writers[k] = w
	}
	chunk := make([][3][]byte, 0, streamChunk)
	flush := func() {
		var wg sync.WaitGroup
		for _, w := range writers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for _, e := range chunk {
					w.write(e[w.k])
				}
			}()
		}
		wg.Wait()
		chunk = chunk[:0]
	}
	count := 0
	err := each(func(e []byte) error {
		d, err := decodeEntry(e)
		if err != nil {
			return err
		}
		count++
		if chunk = append(chunk, d); len(chunk) == streamChunk {
			flush()
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	flush()
	if count != n {
		return nil, fmt.Errorf("repodata: %d entries announced, %d given", n, count)
	}
	var results [3]built
	for k, w := range writers {
		r, err := w.close()
		if err != nil {
			return nil, err
		}
		results[k] = r
	}
	ts := now.Unix()
	var repomd bytes.Buffer
	repomd.WriteString(`<?xml version="1.0" encoding="UTF-8"?>` + "\n")
	repomd.WriteString(`<repomd xmlns="http://linux.duke.edu/metadata/repo" xmlns:rpm="http://linux.duke.edu/metadata/rpm">` + "\n")
	fmt.Fprintf(&repomd, "  <revision>%d</revision>\n", ts)
	var files []File
	for k, r := range results {
		href := fmt.Sprintf("repodata/%s-%s.xml.gz", r.sum, kinds[k].name)
		fmt.Fprintf(&repomd, "  <data type=\"%s\">\n    <checksum type=\"sha256\">%s</checksum>\n    <open-checksum type=\"sha256\">%s</open-checksum>\n    <location href=\"%s\"/>\n    <timestamp>%d</timestamp>\n    <size>%d</size>\n    <open-size>%d</open-size>\n  </data>\n",
			kinds[k].name, r.sum, r.openSum, href, ts, r.size, r.openSize)
		files = append(files, File{Path: href, Data: r.gz})
	}
	for _, x := range extra {
		r, err := gzipDoc(x.XML)
		if err != nil {
			return nil, fmt.Errorf("writing %s: %w", x.Type, err)
		}
		name, typ := x.Type+".xml", x.Type
		switch x.Type {
		case "modules":
			name = "modules.yaml" // dnf's modularity reads YAML, named so by createrepo_c
		case "group":
			// comps: yum and older dnf read the plain "group" document,
			// newer ones prefer "group_gz"; createrepo_c writes both.
			name, typ = "comps.xml", "group_gz"
			href := fmt.Sprintf("repodata/%s-comps.xml", r.openSum)
			fmt.Fprintf(&repomd, "  <data type=\"group\">\n    <checksum type=\"sha256\">%s</checksum>\n    <location href=\"%s\"/>\n    <timestamp>%d</timestamp>\n    <size>%d</size>\n  </data>\n",
				r.openSum, href, ts, r.openSize)
			files = append(files, File{Path: href, Data: x.XML})
		}
		href := fmt.Sprintf("repodata/%s-%s.gz", r.sum, esc(name))
		fmt.Fprintf(&repomd, "  <data type=\"%s\">\n    <checksum type=\"sha256\">%s</checksum>\n    <open-checksum type=\"sha256\">%s</open-checksum>\n    <location href=\"%s\"/>\n    <timestamp>%d</timestamp>\n    <size>%d</size>\n    <open-size>%d</open-size>\n  </data>\n",
			esc(typ), r.sum, r.openSum, href, ts, r.size, r.openSize)
		files = append(files, File{Path: href, Data: r.gz})
	}
	repomd.WriteString("</repomd>\n")
	asc, err := key.DetachSignArmored(bytes.NewReader(repomd.Bytes()))
	if err != nil {
		return nil, fmt.Errorf("signing repomd.xml: %w", err)
	}
	files = append(files, File{Path: "repodata/repomd.xml", Data: repomd.Bytes()}, File{Path: "repodata/repomd.xml.asc", Data: asc})
	return files, nil
}

func gzipDoc(doc []byte) (built, error) {
	var gz bytes.Buffer
	zw, err := gzip.NewWriterLevel(&gz, gzip.DefaultCompression)
	if err != nil {
		return built{}, err
	}
	zw.Write(doc)
	if err := zw.Close(); err != nil {
		return built{}, err
	}
	sum, open := sha256.Sum256(gz.Bytes()), sha256.Sum256(doc)
	return built{gz: gz.Bytes(), sum: hex.EncodeToString(sum[:]), openSum: hex.EncodeToString(open[:]), size: gz.Len(), openSize: len(doc)}, nil
}

// xmlWriter writes one of the three documents through gzip, hashing the
// open and compressed bytes as they pass.
type xmlWriter struct {
	k        int
	openHash hash.Hash
	gz       bytes.Buffer
	zw       *gzip.Writer
	size     int
}

func newXMLWriter(k, n int) (*xmlWriter, error) {
	w := &xmlWriter{k: k, openHash: sha256.New()}
	zw, err := gzip.NewWriterLevel(&w.gz, gzip.DefaultCompression)
	if err != nil {
		return nil, err
	}
	w.zw = zw
	w.write([]byte(`<?xml version="1.0" encoding="UTF-8"?>` + "\n"))
	w.write([]byte(fmt.Sprintf(kinds[k].open, n)))
	return w, nil
}

func (w *xmlWriter) write(b []byte) {
	w.openHash.Write(b)
	w.zw.Write(b) // a bytes.Buffer does not fail; Close reports the rest
	w.size += len(b)
}

func (w *xmlWriter) close() (built, error) {
	w.write([]byte(kinds[w.k].close))
	if err := w.zw.Close(); err != nil {
		return built{}, err
	}
	sum := sha256.Sum256(w.gz.Bytes())
	return built{gz: w.gz.Bytes(), sum: hex.EncodeToString(sum[:]), openSum: hex.EncodeToString(w.openHash.Sum(nil)),
		size: w.gz.Len(), openSize: w.size}, nil
}
