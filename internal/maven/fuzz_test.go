package maven

import (
	"bytes"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"
)

// Fuzz targets for what clients send: repository paths, POMs, checksum
// files and metadata files; and for the version order the metadata relies
// on. Their invariants: never panic, refuse with ErrInvalid, and whatever
// is accepted is safe and renders back to what was parsed.

func FuzzParsePath(f *testing.F) {
	for _, s := range []string{
		"com/example/lib/1.0/lib-1.0.jar",
		"com/example/lib/1.0/lib-1.0-sources.jar.sha1",
		"com/example/lib/1.0/lib-1.0.jar.asc.sha512",
		"com/example/lib/1.0-SNAPSHOT/lib-1.0-20260102.030405-17-sources.jar.md5",
		"com/example/lib/1.0-SNAPSHOT/maven-metadata.xml",
		"com/example/lib/maven-metadata.xml.sha256",
		"org/lib/2.0.0+build.5/lib-2.0.0+build.5.tar.gz",
		"com/example/../1.0/lib-1.0.jar",
		"/com//example\\lib",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		p, err := ParsePath(s)
		if err != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("ParsePath(%q): error %v is not ErrInvalid", s, err)
			}
			return
		}
		if got := p.String(); got != s {
			t.Fatalf("ParsePath(%q).String() = %q", s, got)
		}
		if again, err := ParsePath(p.String()); err != nil || again != p {
			t.Fatalf("ParsePath(%q) = %+v, but again %+v, %v", s, p, again, err)
		}
		checkSafePath(t, s)
		c := p.Coordinates
		if p.Version == "" {
			if p.Kind == KindArtifact || p.Kind == KindChecksum && p.TargetKind == KindArtifact {
				t.Fatalf("ParsePath(%q) = %+v: an artifact without a version", s, p)
			}
			c.Version = "1" // for Validate
		}
		if err := c.Validate(); err != nil {
			t.Fatalf("ParsePath(%q) = %+v, whose coordinates are invalid: %v", s, p, err)
		}
		if !strings.HasPrefix(s, p.Dir()+"/") {
			t.Fatalf("ParsePath(%q) = %+v, whose Dir is %q", s, p, p.Dir())
		}
		switch p.Kind {
		case KindChecksum:
			if !slices.Contains(ChecksumExts, p.Algorithm) {
				t.Fatalf("ParsePath(%q): unknown algorithm %q", s, p.Algorithm)
			}
			target, err := ParsePath(p.Target())
			if err != nil || target.Kind != p.TargetKind || target.Coordinates != p.Coordinates {
				t.Fatalf("ParsePath(%q) = %+v, but its target parses as %+v, %v", s, p, target, err)
			}
		case KindArtifact:
			if p.FileVersion == p.Version && p.Dir()+"/"+p.FileName(p.Classifier, p.Extension) != s {
				t.Fatalf("ParsePath(%q) = %+v, whose FileName differs", s, p)
			}
		case KindMetadata:
		default:
			t.Fatalf("ParsePath(%q) = %+v: kind %v", s, p, p.Kind)
		}
	})
}

// checkSafePath fails unless s is a clean relative path of printable ASCII.
func checkSafePath(t *testing.T, s string) {
	t.Helper()
	if len(s) > MaxPathLen || strings.HasPrefix(s, "/") || strings.Contains(s, "//") || strings.HasSuffix(s, "/") {
		t.Fatalf("accepted the unclean path %q", s)
	}
	for seg := range strings.SplitSeq(s, "/") {
		if seg == "." || seg == ".." || strings.HasPrefix(seg, ".") {
			t.Fatalf("accepted the path %q with segment %q", s, seg)
		}
	}
	for i := 0; i < len(s); i++ {
		if s[i] <= ' ' || s[i] >= 0x7f || s[i] == '\\' {
			t.Fatalf("accepted the path %q with byte %#x", s, s[i])
		}
	}
}

func FuzzParsePOM(f *testing.F) {
	f.Add(project(`<groupId>com.example</groupId><artifactId>lib</artifactId><version>1.0</version>`))
	f.Add(project(parent + `<artifactId>lib</artifactId><packaging>pom</packaging>`))
	f.Add(project(`<groupId>g</groupId><artifactId>a</artifactId><version>${revision}${changelist}</version>
		<properties><revision>1.4.0</revision><changelist>-SNAPSHOT</changelist></properties>`))
	f.Add(project(`<groupId>g</groupId><artifactId>a</artifactId><version>${x}</version><properties><x>${y}</x><y>${x}</y></properties>`))
	f.Add("<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?><project><groupId>g</groupId><artifactId>a\xe9</artifactId><version>1</version></project>")
	f.Add("<project><artifactId>a</artifactId></project>junk")
	f.Fuzz(func(t *testing.T, pom string) {
		c, err := ParsePOM(strings.NewReader(pom))
		if err != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("ParsePOM: error %v is not ErrInvalid", err)
			}
			return
		}
		if err := c.Validate(); err != nil {
			t.Fatalf("ParsePOM = %+v, which is invalid: %v", c, err)
		}
		if c.Packaging == "" {
			t.Fatalf("ParsePOM = %+v, without packaging", c)
		}
		for _, ext := range []string{"pom", "jar"} {
			path := c.Dir() + "/" + c.FileName("", ext)
			p, err := ParsePath(path)
			if err != nil {
				t.Fatalf("ParsePOM = %+v, whose %s path %q does not parse: %v", c, ext, path, err)
			}
			want := c
			want.Packaging = ""
			if p.Coordinates != want || p.Extension != ext || p.Classifier != "" {
				t.Fatalf("ParsePOM = %+v, whose path %q parses as %+v", c, path, p)
			}
		}
	})
}

func FuzzCompareVersions(f *testing.F) {
	for _, v := range [][3]string{
		{"1.0", "1.0.0", "1-0"},
		{"1-alpha2snapshot", "1-alpha-123", "1.0.0.RELEASE"},
		{"2.0.a", "2-1", "2.0.0.a"},
		{"1-0.alpha", "1", "1-0.beta"},
		{"6.1.0rc3", "6.1.0", "6.1H.5-beta"},
		{"12345678901234567890.1H.5-beta", "0000000000.1", "1-sp-1"},
	} {
		f.Add(v[0], v[1], v[2])
	}
	f.Fuzz(func(t *testing.T, a, b, c string) {
		ab, ba := CompareVersions(a, b), CompareVersions(b, a)
		if ab != -ba || ab < -1 || ab > 1 {
			t.Fatalf("CompareVersions(%q, %q) = %d but reversed %d", a, b, ab, ba)
		}
		if CompareVersions(a, a) != 0 {
			t.Fatalf("CompareVersions(%q, itself) != 0", a)
		}
		// Transitivity is not checked: Maven's order does not have it
		// (see TestCompareVersionsNotTransitive). Metadata must be
		// deterministic all the same.
		vs := []string{a, b, c}
		m1 := Metadata("g", "a", vs, time.Unix(0, 0))
		slices.Reverse(vs)
		if m2 := Metadata("g", "a", vs, time.Unix(0, 0)); !bytes.Equal(m1, m2) {
			t.Fatalf("Metadata depends on the order of %q", vs)
		}
	})
}

func FuzzParseChecksumFile(f *testing.F) {
	f.Add([]byte("a9993e364706816aba3e25717850c26c9cd0d89d\n"))
	f.Add([]byte("A9993E364706816ABA3E25717850C26C9CD0D89D  lib-1.0.jar\r\n"))
	f.Add([]byte("MD5 (lib-1.0.jar) = 900150983cd24fb0d6963f7d28e17f72"))
	f.Fuzz(func(t *testing.T, data []byte) {
		d, err := ParseChecksumFile(data)
		if err != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("ParseChecksumFile: error %v is not ErrInvalid", err)
			}
			return
		}
		if !slices.Contains([]int{32, 40, 64, 128}, len(d)) || strings.Trim(d, "0123456789abcdef") != "" {
			t.Fatalf("ParseChecksumFile(%q) = %q, not a lower-case hex digest", data, d)
		}
		if !bytes.HasPrefix(bytes.ToLower(data), []byte(d)) {
			t.Fatalf("ParseChecksumFile(%q) = %q, which the file does not start with", data, d)
		}
	})
}

func FuzzParseMetadata(f *testing.F) {
	f.Add(Metadata("com.example", "lib", []string{"1.0", "1.1-SNAPSHOT", "2.0-rc1"}, time.Unix(0, 0)))
	f.Add([]byte(`<metadata><groupId>g</groupId><artifactId>a</artifactId><version>1.0-SNAPSHOT</version></metadata>`))
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := ParseMetadata(data)
		if err != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("ParseMetadata: error %v is not ErrInvalid", err)
			}
			return
		}
		for _, v := range m.Versions {
			if err := checkVersion(v); err != nil {
				t.Fatalf("ParseMetadata(%q) returned the invalid version %q", data, v)
			}
		}
		// What it reads, Metadata writes back readably.
		again, err := ParseMetadata(Metadata(m.GroupID, m.ArtifactID, m.Versions, time.Unix(0, 0)))
		if err != nil || again.GroupID != m.GroupID || again.ArtifactID != m.ArtifactID ||
			len(slices.Compact(slices.Sorted(slices.Values(m.Versions)))) != len(again.Versions) {
			t.Fatalf("ParseMetadata(%q) = %+v; rendered and read again: %+v, %v", data, m, again, err)
		}
	})
}
