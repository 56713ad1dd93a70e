package csaf

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/golden")

func buildFixture(t *testing.T) (*Manifest, *blobs, *fakeSigner) {
	t.Helper()
	advs, recs, hist := fixture(t)
	b, s := newBlobs(), &fakeSigner{}
	m, err := Build(context.Background(), nil, snapshot(advs, recs), historyOf(hist), s, testOptions(), b.put)
	if err != nil {
		t.Fatal(err)
	}
	return m, b, s
}

// TestGolden compares the whole tree (but the fake signatures) with
// testdata/golden.
func TestGolden(t *testing.T) {
	m, b, _ := buildFixture(t)
	dir := filepath.Join("testdata", "golden")
	got := map[string][]byte{}
	for p := range m.Files {
		if !strings.HasSuffix(p, ".asc") || strings.HasPrefix(p, "openpgp/") {
			got[p] = b.file(t, m, p)
		}
	}
	b.mu.Lock()
	got["security.txt"] = b.m[m.SecurityTxt.Sum]
	b.mu.Unlock()
	if *update {
		if err := os.RemoveAll(dir); err != nil {
			t.Fatal(err)
		}
		for p, data := range got {
			f := filepath.Join(dir, filepath.FromSlash(p))
			if err := os.MkdirAll(filepath.Dir(f), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(f, data, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	var want []string
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		want = append(want, filepath.ToSlash(rel))
		return nil
	})
	if err != nil {
		t.Fatalf("reading golden files (run with -update to create them): %v", err)
	}
	if len(want) != len(got) {
		t.Errorf("tree has %d files, golden %d: %v vs %v", len(got), len(want), slices.Sorted(maps.Keys(got)), want)
	}
	for _, p := range want {
		exp, _ := os.ReadFile(filepath.Join(dir, filepath.FromSlash(p)))
		if g, ok := got[p]; !ok {
			t.Errorf("%s: missing from the tree", p)
		} else if !bytes.Equal(g, exp) {
			t.Errorf("%s differs from the golden file (run with -update and review the diff):\n%s", p, g)
		}
	}
}

// TestTree checks the shape of the tree and the facts the golden files
// encode, so a careless -update cannot hide a regression.
func TestTree(t *testing.T) {
	m, b, s := buildFixture(t)
	wantDocs := []string{
		"white/2025/cve-2025-9999.json",
		"white/2026/cve-2026-1000.json",
		"white/2026/cve-2026-1001.json",
		"white/2026/cve-2026-1002.json",
		"white/2026/cve-2026-1003.json",
		"white/2026/enmei-sa-2026_0001.json",
		"white/2026/enmei-sa-2026_0002.json",
	}
	for _, p := range wantDocs {
		for _, suf := range docSuffixes {
			if _, ok := m.Files[p+suf]; !ok {
				t.Errorf("no %s%s", p, suf)
			}
		}
	}
	if got := int(s.calls.Load()); got != len(wantDocs) {
		t.Errorf("signed %d documents, want %d", got, len(wantDocs))
	}
	if len(m.Docs) != len(wantDocs) || m.Stats.Signed != len(wantDocs) {
		t.Errorf("docs %d, signed %d; want %d", len(m.Docs), m.Stats.Signed, len(wantDocs))
	}
	index := string(b.file(t, m, "white/index.txt"))
	if want := strings.Join(func() []string {
		var s []string
		for _, p := range wantDocs {
			s = append(s, strings.TrimPrefix(p, "white/"))
		}
		return s
	}(), "\n") + "\n"; index != want {
		t.Errorf("index.txt:\n%s\nwant:\n%s", index, want)
	}
	changes := strings.Split(strings.TrimSpace(string(b.file(t, m, "white/changes.csv"))), "\n")
	if len(changes) != len(wantDocs) || changes[0] != `"2026/enmei-sa-2026_0002.json","2026-02-01T08:30:00Z"` {
		t.Errorf("changes.csv:\n%s", strings.Join(changes, "\n"))
	}
	sha := string(b.file(t, m, "white/2026/cve-2026-1000.json.sha256"))
	if !strings.HasSuffix(sha, "  cve-2026-1000.json\n") || len(sha) != 64+2+len("cve-2026-1000.json")+1 {
		t.Errorf("sha256 file %q", sha)
	}

	doc := func(p string) map[string]any {
		var v map[string]any
		if err := json.Unmarshal(b.file(t, m, p), &v); err != nil {
			t.Fatal(err)
		}
		return v
	}
	get := func(v any, path ...any) any {
		for _, k := range path {
			switch k := k.(type) {
			case string:
				v = v.(map[string]any)[k]
			case int:
				v = v.([]any)[k]
			}
		}
		return v
	}
	sa := doc("white/2026/enmei-sa-2026_0001.json")
	if get(sa, "document", "category") != "csaf_security_advisory" || get(sa, "document", "tracking", "id") != "ENMEI-SA-2026:0001" ||
		get(sa, "document", "distribution", "tlp", "label") != "WHITE" || get(sa, "document", "tracking", "initial_release_date") != "2026-01-15T10:00:00Z" {
		t.Errorf("advisory document: %v", sa["document"])
	}
	purls := map[string]bool{}
	var walk func(v any)
	walk = func(v any) {
		switch v := v.(type) {
		case map[string]any:
			if p, ok := v["purl"].(string); ok {
				purls[p] = true
			}
			for _, x := range v {
				walk(x)
			}
		case []any:
			for _, x := range v {
				walk(x)
			}
		}
	}
	walk(sa["product_tree"])
	for _, p := range []string{
		"pkg:rpm/almalinux/openssl@3.0.7-27.el9?arch=x86_64&epoch=1",
		"pkg:rpm/almalinux/openssl-libs@3.0.7-27.el9?arch=x86_64&epoch=1",
		"pkg:deb/debian/openssl@3.0.11-1~deb12u2%2Bels1?arch=amd64",
	} {
		if !purls[p] {
			t.Errorf("advisory lacks purl %s (has %v)", p, slices.Sorted(maps.Keys(purls)))
		}
	}
	if got := get(sa, "vulnerabilities", 0, "product_status", "fixed"); len(got.([]any)) != 3 {
		t.Errorf("fixed %v", got)
	}
	if get(sa, "vulnerabilities", 0, "scores", 0, "cvss_v3", "baseScore") != 9.1 || get(sa, "vulnerabilities", 0, "scores", 0, "cvss_v3", "baseSeverity") != "CRITICAL" {
		t.Errorf("scores %v", get(sa, "vulnerabilities", 0, "scores"))
	}

	status := func(p string) map[string]any {
		return get(doc(p), "vulnerabilities", 0, "product_status").(map[string]any)
	}
	// CVE-2026-1000: fixed by package versions of both products.
	if got := status("white/2026/cve-2026-1000.json"); len(got) != 1 || len(got["fixed"].([]any)) != 3 {
		t.Errorf("CVE-2026-1000 status %v", got)
	}
	v1000 := doc("white/2026/cve-2026-1000.json")
	if get(v1000, "document", "tracking", "version") != "5" || get(v1000, "document", "tracking", "initial_release_date") != "2026-01-10T12:00:00Z" ||
		get(v1000, "document", "tracking", "current_release_date") != "2026-01-15T12:00:00Z" {
		t.Errorf("CVE-2026-1000 tracking from history: %v", get(v1000, "document", "tracking"))
	}
	rem := get(v1000, "vulnerabilities", 0, "remediations", 0).(map[string]any)
	if rem["category"] != "vendor_fix" || rem["url"] != "https://els.example.com/.well-known/csaf/white/2026/enmei-sa-2026_0001.json" {
		t.Errorf("vendor_fix %v", rem)
	}
	// CVE-2026-1001: fixed (AlmaLinux) and known_not_affected with its
	// impact statement and justification flag (Debian).
	st := status("white/2026/cve-2026-1001.json")
	if len(st["fixed"].([]any)) != 2 || st["known_not_affected"].([]any)[0] != "debian-12" {
		t.Errorf("CVE-2026-1001 status %v", st)
	}
	v1001 := doc("white/2026/cve-2026-1001.json")
	if get(v1001, "vulnerabilities", 0, "threats", 0, "category") != "impact" || get(v1001, "vulnerabilities", 0, "flags", 0, "label") != "vulnerable_code_not_present" {
		t.Errorf("CVE-2026-1001 threats/flags %v %v", get(v1001, "vulnerabilities", 0, "threats"), get(v1001, "vulnerabilities", 0, "flags"))
	}
	// CVE-2026-1002: known_affected with a planned fix, and under_investigation.
	st = status("white/2026/cve-2026-1002.json")
	if st["known_affected"].([]any)[0] != "almalinux-9" || st["under_investigation"].([]any)[0] != "debian-12" {
		t.Errorf("CVE-2026-1002 status %v", st)
	}
	if r := get(doc("white/2026/cve-2026-1002.json"), "vulnerabilities", 0, "remediations", 0).(map[string]any); r["category"] != "none_available" || !strings.Contains(r["details"].(string), "fix is planned") {
		t.Errorf("CVE-2026-1002 remediation %v", r)
	}
	// CVE-2026-1003: ignored → known_affected + no_fix_planned.
	if r := get(doc("white/2026/cve-2026-1003.json"), "vulnerabilities", 0, "remediations", 0).(map[string]any); r["category"] != "no_fix_planned" || !strings.Contains(r["details"].(string), "Will not fix") {
		t.Errorf("CVE-2026-1003 remediation %v", r)
	}
	// CVE-2025-9999: already fixed, no advisory: the product is fixed.
	if st := status("white/2025/cve-2025-9999.json"); st["fixed"].([]any)[0] != "almalinux-9" {
		t.Errorf("CVE-2025-9999 status %v", st)
	}

	pmd := doc("provider-metadata.json")
	if pmd["role"] != "csaf_provider" || pmd["canonical_url"] != "https://els.example.com/.well-known/csaf/provider-metadata.json" ||
		get(pmd, "distributions", 0, "directory_url") != "https://els.example.com/.well-known/csaf/white/" ||
		get(pmd, "public_openpgp_keys", 0, "url") != "https://els.example.com/.well-known/csaf/openpgp/"+testFPR+".asc" {
		t.Errorf("provider metadata %v", pmd)
	}
	if !bytes.Equal(b.file(t, m, "openpgp/"+testFPR+".asc"), testKey) {
		t.Error("public key file differs")
	}
}

// schemaCompiler loads the CSAF and CVSS schemas from testdata, as
// csaf_checker does from its embedded copies.
func schemaCompiler(t *testing.T) *jsonschema.Compiler {
	t.Helper()
	c := jsonschema.NewCompiler()
	c.AssertFormat()
	for file, url := range map[string]string{
		"csaf_json_schema.json":     "https://docs.oasis-open.org/csaf/csaf/v2.0/csaf_json_schema.json",
		"provider_json_schema.json": "https://docs.oasis-open.org/csaf/csaf/v2.0/provider_json_schema.json",
		"cvss-v2.0.json":            "https://www.first.org/cvss/cvss-v2.0.json",
		"cvss-v3.0.json":            "https://www.first.org/cvss/cvss-v3.0.json",
		"cvss-v3.1.json":            "https://www.first.org/cvss/cvss-v3.1.json",
	} {
		f, err := os.Open(filepath.Join("testdata", "schema", file))
		if err != nil {
			t.Fatal(err)
		}
		doc, err := jsonschema.UnmarshalJSON(f)
		f.Close()
		if err != nil {
			t.Fatal(err)
		}
		if err := c.AddResource(url, doc); err != nil {
			t.Fatal(err)
		}
	}
	return c
}

func validate(t *testing.T, s *jsonschema.Schema, name string, data []byte) {
	t.Helper()
	v, err := jsonschema.UnmarshalJSON(bytes.NewReader(data))
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	if err := s.Validate(v); err != nil {
		t.Errorf("%s does not validate: %v", name, err)
	}
}

// TestSchema validates every document and the provider metadata against
// the CSAF 2.0 JSON schemas, and runs the CSAF mandatory tests (section
// 6.1) that apply to what enmei writes.
func TestSchema(t *testing.T) {
	m, b, _ := buildFixture(t)
	c := schemaCompiler(t)
	docSchema, err := c.Compile("https://docs.oasis-open.org/csaf/csaf/v2.0/csaf_json_schema.json")
	if err != nil {
		t.Fatal(err)
	}
	pmdSchema, err := c.Compile("https://docs.oasis-open.org/csaf/csaf/v2.0/provider_json_schema.json")
	if err != nil {
		t.Fatal(err)
	}
	validate(t, pmdSchema, "provider-metadata.json", b.file(t, m, "provider-metadata.json"))
	n := 0
	for _, p := range slices.Sorted(maps.Keys(m.Files)) {
		if !strings.HasPrefix(p, "white/2") || !strings.HasSuffix(p, ".json") {
			continue
		}
		n++
		data := b.file(t, m, p)
		validate(t, docSchema, p, data)
		for _, msg := range mandatoryTests(data) {
			t.Errorf("%s: %s", p, msg)
		}
		if FileName(trackingID(t, data)) != filepath.Base(p) {
			t.Errorf("%s: file name does not follow the tracking ID", p)
		}
	}
	if n != 7 {
		t.Errorf("validated %d documents, want 7", n)
	}
}

func trackingID(t *testing.T, data []byte) string {
	var d document
	if err := json.Unmarshal(data, &d); err != nil {
		t.Fatal(err)
	}
	return d.Document.Tracking.ID
}

// TestMandatoryTestsCatch shows the mandatory-test checker finds faults,
// so a pass means something.
func TestMandatoryTestsCatch(t *testing.T) {
	m, b, _ := buildFixture(t)
	data := b.file(t, m, "white/2026/cve-2026-1001.json")
	var d document
	if err := json.Unmarshal(data, &d); err != nil {
		t.Fatal(err)
	}
	v := &d.Vulnerabilities[0]
	v.ProductStatus.UnderInvestigation = append(v.ProductStatus.UnderInvestigation, "debian-12", "nope")
	v.Threats, v.Flags = nil, nil
	v.Scores[0].CVSSV3.BaseScore = 1.0
	d.Document.Tracking.Version = "7"
	bad, _ := json.Marshal(d)
	msgs := strings.Join(mandatoryTests(bad), "\n")
	for _, want := range []string{"6.1.1 ", "6.1.6 ", "6.1.9 ", "6.1.16 ", "6.1.27.9 "} {
		if !strings.Contains(msgs, want) {
			t.Errorf("mandatory tests missed %s in:\n%s", want, msgs)
		}
	}
}

func TestFileName(t *testing.T) {
	for id, want := range map[string]string{
		"ENMEI-SA-2026:0001": "enmei-sa-2026_0001.json",
		"CVE-2026-1000":      "cve-2026-1000.json",
		"A.b+c/d é":          "a_b+c_d__.json",
	} {
		if got := FileName(id); got != want {
			t.Errorf("FileName(%q) = %q, want %q", id, got, want)
		}
	}
}

func TestDeterministic(t *testing.T) {
	m1, b1, _ := buildFixture(t)
	m2, b2, _ := buildFixture(t)
	e1, _ := m1.Encode()
	e2, _ := m2.Encode()
	if !bytes.Equal(e1, e2) {
		t.Error("two builds of one snapshot give different manifests")
	}
	keys := slices.Sorted(maps.Keys(m1.Files))
	sort.Strings(keys)
	for _, p := range keys {
		if !bytes.Equal(b1.file(t, m1, p), b2.file(t, m2, p)) {
			t.Errorf("%s differs between two builds", p)
		}
	}
	d, err := DecodeManifest(e1)
	if err != nil {
		t.Fatal(err)
	}
	if e3, _ := d.Encode(); !bytes.Equal(e1, e3) {
		t.Error("a decoded manifest encodes differently")
	}
}
