package sbom

import (
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

func TestParseLicenseExpression(t *testing.T) {
	tests := []struct {
		in     string
		want   string // "" = not a valid expression
		single bool
	}{
		{"MIT", "MIT", true},
		{"mit", "MIT", true},
		{"zlib", "Zlib", true},
		{"Apache-2.0 OR MIT", "Apache-2.0 OR MIT", false},
		{"  Apache-2.0   AND  (MIT OR BSD-3-Clause) ", "Apache-2.0 AND (MIT OR BSD-3-Clause)", false},
		{"(MIT)", "(MIT)", false},
		{"GPL-2.0-or-later WITH Classpath-exception-2.0", "GPL-2.0-or-later WITH Classpath-exception-2.0", false},
		{"gpl-2.0-or-later with classpath-exception-2.0", "", false}, // operators are case-sensitive
		{"GPL-2.0-or-later WITH classpath-exception-2.0", "GPL-2.0-or-later WITH Classpath-exception-2.0", false},
		{"Apache-2.0+", "Apache-2.0+", false},
		{"GPL-2.0+", "GPL-2.0+", true}, // a (deprecated) listed identifier in its own right
		{"LGPL-2.1-only AND (GPL-2.0-or-later WITH Autoconf-exception-2.0)", "LGPL-2.1-only AND (GPL-2.0-or-later WITH Autoconf-exception-2.0)", false},
		{"MIT and ASL 2.0", "", false},
		{"ASL 2.0", "", false},
		{"GPLv2+", "", false},
		{"MIT and Apache-2.0", "", false},
		{"BSD", "", false},
		{"Public Domain", "", false},
		{"MIT AND", "", false},
		{"AND MIT", "", false},
		{"MIT OR OR Apache-2.0", "", false},
		{"(MIT", "", false},
		{"MIT)", "", false},
		{"()", "", false},
		{"(MIT OR Apache-2.0) WITH Classpath-exception-2.0", "", false}, // WITH applies to a simple expression only
		{"MIT WITH Apache-2.0", "", false},                              // not an exception
		{"Classpath-exception-2.0", "", false},                          // an exception is no licence
		{"LicenseRef-Fedora-Public-Domain", "", false},                  // no text for it: handled as free text
		{"MIT AND LicenseRef-foo", "", false},
		{"DocumentRef-a:LicenseRef-b", "", false},
		{"MIT/X11", "", false},
		{"", "", false},
		{"   ", "", false},
	}
	for _, tt := range tests {
		got, single, ok := parseLicenseExpression(tt.in)
		if ok != (tt.want != "") || got != tt.want || ok && single != tt.single {
			t.Errorf("parseLicenseExpression(%q) = %q, single %v, ok %v; want %q, single %v", tt.in, got, single, ok, tt.want, tt.single)
		}
	}
}

func TestLicenseTable(t *testing.T) {
	tab := newLicenseTable()
	declared := []string{
		"MIT and ASL 2.0",
		"MIT and ASL-2.0", // same sanitised name as the first
		"Apache-2.0",
		"",
		"公有领域",
		"GPLv2+ and LGPLv2+ with exceptions",
		strings.Repeat("Very Long Licence Name ", 10),
	}
	for _, d := range declared {
		tab.add(d)
	}
	tab.add("MIT and ASL 2.0") // repeated: one entry
	tab.finish()

	if l := tab.info("Apache-2.0"); l.kind != licenseExpression || l.spdxDeclared() != "Apache-2.0" || !l.single {
		t.Errorf("Apache-2.0: %+v", l)
	}
	if l := tab.info(""); l.kind != licenseNone || l.spdxDeclared() != "NOASSERTION" {
		t.Errorf("empty: %+v", l)
	}
	a, b := tab.info("MIT and ASL 2.0"), tab.info("MIT and ASL-2.0")
	if a.ref == b.ref || !strings.HasPrefix(a.ref, "LicenseRef-MIT-and-ASL-2.0-") || !strings.HasPrefix(b.ref, "LicenseRef-MIT-and-ASL-2.0-") {
		t.Errorf("colliding names not disambiguated: %q %q", a.ref, b.ref)
	}
	if l := tab.info("GPLv2+ and LGPLv2+ with exceptions"); l.ref != "LicenseRef-GPLv2-and-LGPLv2-with-exceptions" {
		t.Errorf("ref = %q", l.ref)
	}
	if l := tab.info("公有领域"); !regexp.MustCompile(`^LicenseRef-[0-9a-f]{16}$`).MatchString(l.ref) {
		t.Errorf("non-ASCII text ref = %q", l.ref)
	}
	refRE := regexp.MustCompile(`^LicenseRef-[A-Za-z0-9.-]+$`)
	refs := tab.refs()
	if len(refs) != 5 {
		t.Errorf("%d LicenseRefs, want 5", len(refs))
	}
	for i, l := range refs {
		if !refRE.MatchString(l.ref) || len(l.ref) > len("LicenseRef-")+64+17 {
			t.Errorf("bad LicenseRef %q", l.ref)
		}
		if i > 0 && refs[i-1].ref >= l.ref {
			t.Errorf("refs not sorted/unique: %q, %q", refs[i-1].ref, l.ref)
		}
	}

	// Names do not depend on the order the texts were seen in.
	tab2 := newLicenseTable()
	for _, d := range slices.Backward(declared) {
		tab2.add(d)
	}
	tab2.finish()
	for _, d := range declared {
		if tab.info(d) != tab2.info(d) {
			t.Errorf("%q: %+v vs %+v", d, tab.info(d), tab2.info(d))
		}
	}
}

// spdx_licenses.go must list exactly the licences and exceptions of the
// schema copy it is generated from (go generate ./internal/sbom/).
func TestLicenseTablesMatchSchema(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("testdata", "schemas", "cyclonedx-1.6", "spdx.xsd"))
	if err != nil {
		t.Fatal(err)
	}
	xsd := string(data)
	li, ei := strings.Index(xsd, "<!-- Licenses -->"), strings.Index(xsd, "<!-- Exceptions -->")
	if li < 0 || ei < li {
		t.Fatal("spdx.xsd has no Licenses/Exceptions sections")
	}
	enum := regexp.MustCompile(`<xs:enumeration value="([^"]+)"`)
	ids := func(s string) []string {
		var out []string
		for _, m := range enum.FindAllStringSubmatch(s, -1) {
			out = append(out, m[1])
		}
		slices.Sort(out)
		return out
	}
	if want := ids(xsd[li:ei]); !slices.Equal(want, spdxLicenseIDs) {
		t.Errorf("spdxLicenseIDs (%d) differ from spdx.xsd (%d): run go generate", len(spdxLicenseIDs), len(want))
	}
	if want := ids(xsd[ei:]); !slices.Equal(want, spdxExceptionIDs) {
		t.Errorf("spdxExceptionIDs (%d) differ from spdx.xsd (%d): run go generate", len(spdxExceptionIDs), len(want))
	}
	if !strings.Contains(xsd, `-`+spdxLicenseListVersion+`"`) {
		t.Errorf("licence list version %s not found in spdx.xsd", spdxLicenseListVersion)
	}
	if len(spdxLicenseIDs) < 500 || len(spdxExceptionIDs) < 40 {
		t.Fatalf("%d licences, %d exceptions", len(spdxLicenseIDs), len(spdxExceptionIDs))
	}
}
