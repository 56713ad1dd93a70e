package hostbundle

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ulikunitz/xz"
)

// now is the time every test bundle is made at.
var now = time.Date(2026, 1, 2, 15, 4, 5, 0, time.FixedZone("JST", 9*3600))

// write creates root/p with content, and its directories.
func write(t testing.TB, root, p, content string) {
	t.Helper()
	full := filepath.Join(root, p)
	if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(full, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// symlink makes root/p a link to target, creating its directory.
func symlink(t testing.TB, root, p, target string) {
	t.Helper()
	full := filepath.Join(root, p)
	if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(target, full); err != nil {
		t.Fatal(err)
	}
}

// unxz decompresses one of inventory's rpm database fixtures (real
// databases from go-rpmdb's test data) to root/p.
func unxz(t testing.TB, fixture, root, p string) {
	t.Helper()
	f, err := os.Open(filepath.Join("..", "inventory", "testdata", "rpmdb", fixture))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r, err := xz.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if _, err := io.Copy(&b, r); err != nil {
		t.Fatal(err)
	}
	write(t, root, p, b.String())
}

// bundle is an extracted bundle.
type bundle struct {
	raw     []byte            // the whole decompressed tar stream, headers included
	names   []string          // header names, in order
	entries map[string]string // name below the top directory -> content
	top     string
}

// open decompresses the bundle at p, checking that every entry is a
// regular file below one top directory.
func open(t testing.TB, p string) *bundle {
	t.Helper()
	f, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	gz, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := io.ReadAll(gz)
	if err != nil {
		t.Fatal(err)
	}
	b := &bundle{raw: raw, entries: map[string]string{}}
	tr := tar.NewReader(bytes.NewReader(raw))
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		top, name, ok := strings.Cut(hdr.Name, "/")
		if !ok || hdr.Typeflag != tar.TypeReg || hdr.Mode != 0o600 {
			t.Fatalf("entry %q: type %c, mode %o; want a regular file 0600 below the top directory", hdr.Name, hdr.Typeflag, hdr.Mode)
		}
		if b.top == "" {
			b.top = top
		} else if top != b.top {
			t.Fatalf("entry %q is not below %s", hdr.Name, b.top)
		}
		if _, dup := b.entries[name]; dup {
			t.Fatalf("entry %q twice", name)
		}
		data, err := io.ReadAll(tr)
		if err != nil {
			t.Fatal(err)
		}
		b.names = append(b.names, name)
		b.entries[name] = string(data)
	}
	return b
}

// entry returns an entry's content, failing the test when it is missing.
func (b *bundle) entry(t testing.TB, name string) string {
	t.Helper()
	data, ok := b.entries[name]
	if !ok {
		t.Fatalf("no entry %s; the bundle has %q", name, b.names)
	}
	return data
}

// noLeak fails the test when any of the planted strings occurs anywhere
// in the decompressed archive: contents, header names, PAX records.
func (b *bundle) noLeak(t testing.TB, planted ...string) {
	t.Helper()
	for _, s := range planted {
		if i := bytes.Index(b.raw, []byte(s)); i >= 0 {
			lo, hi := max(i-120, 0), min(i+len(s)+40, len(b.raw))
			t.Errorf("%q leaked into the bundle: ...%q...", s, b.raw[lo:hi])
		}
	}
}

// hasLines fails the test unless every line occurs in text as a whole
// line.
func hasLines(t testing.TB, name, text string, lines ...string) {
	t.Helper()
	have := map[string]bool{}
	for l := range strings.Lines(text) {
		have[strings.TrimSuffix(l, "\n")] = true
	}
	for _, l := range lines {
		if !have[l] {
			t.Errorf("%s lacks the line %q; it is:\n%s", name, l, text)
		}
	}
}

// dirNames lists a directory.
func dirNames(t testing.TB, dir string) []string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	return names
}
