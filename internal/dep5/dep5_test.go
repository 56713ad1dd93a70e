package dep5

import (
	"testing"
	"unicode"
)

const sample = `Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/
Upstream-Name: foo
Source: https://example.org/foo

Files: *
Copyright: 2020 Foo Authors
License: GPL-2+ or Artistic
 This program is free software.

Files: compat/*
Copyright: 2019 Someone
License: MIT

Files: debian/*
Copyright: 2021 A Debian Developer
License: GPL-2+

License: MIT
 Permission is hereby granted...

License: Artistic
 The "Artistic License"
`

func TestLicense(t *testing.T) {
	for _, c := range []struct{ text, want string }{
		{sample, "(GPL-2+ OR Artistic) AND GPL-2+ AND MIT"},
		// The header paragraph's License counts; a stand-alone License
		// paragraph does not; "and"/"with" are upper-cased, commas dropped.
		{"Format: http://www.debian.org/doc/packaging-manuals/copyright-format/1.0/\nLicense: BSD-3-clause\n\nFiles: *\nLicense: GPL-3+ with Bison exception\n\nLicense: Apache-2.0\n text\n", "(GPL-3+ WITH Bison exception) AND BSD-3-clause"},
		{"Format: http://dep.debian.net/deps/dep5\r\n\r\nFiles: *\r\nLicense: LGPL-2.1+, and GPL-2+\r\n", "LGPL-2.1+ AND GPL-2+"},
		// Comments and malformed lines are skipped, not fatal.
		{"# a comment\nFormat: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/\nno colon here\n\nFiles: *\nLicense: Expat\n", "Expat"},
		{"Format: dep5\n\nFiles: *\nLicense: MIT\x00or\x1bBSD\n", "MIT OR BSD"},
		{"Files: *\nLicense: MIT\n", ""}, // no Format: not machine-readable
		{"This package was debianized by someone.\nLicense: GPL\n", ""},
		{"", ""},
	} {
		if got := License(c.text); got != c.want {
			t.Errorf("License(%.50q) = %q, want %q", c.text, got, c.want)
		}
	}
}

// FuzzLicense: any text gives an answer without panicking, and one without
// control characters (it lands in SBOM fields that cannot carry them).
func FuzzLicense(f *testing.F) {
	f.Add(sample)
	f.Add("Format: dep5\n\nFiles: *\nLicense: a,, or b\n")
	f.Fuzz(func(t *testing.T, text string) {
		got := License(text)
		for _, r := range got {
			if unicode.IsControl(r) {
				t.Fatalf("License = %q: holds a control character", got)
			}
		}
	})
}
