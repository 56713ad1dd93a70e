package osv

import (
	"archive/zip"
	"bytes"
	"encoding/json"
	"flag"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/enmei-project/enmei/internal/advisory"
	"github.com/enmei-project/enmei/internal/errs"
	"github.com/enmei-project/enmei/internal/store"
	"github.com/enmei-project/enmei/internal/tracker"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/golden")

const publicURL = "https://els.example.com"

var (
	schemaOnce sync.Once
	schema     *jsonschema.Schema
	schemaErr  error
)

// loadSchema compiles the official schema (testdata/schema.json,
// ossf/osv-schema at 51b8156b) with formats (uri, date-time) asserted;
// nothing is fetched.
func loadSchema(t *testing.T) *jsonschema.Schema {
	t.Helper()
	schemaOnce.Do(func() {
		f, err := os.Open(filepath.Join("testdata", "schema.json"))
		if err != nil {
			schemaErr = err
			return
		}
		defer f.Close()
		doc, err := jsonschema.UnmarshalJSON(f)
		if err != nil {
			schemaErr = err
			return
		}
		c := jsonschema.NewCompiler()
		c.AssertFormat()
		const id = "https://raw.githubusercontent.com/ossf/osv-schema/main/validation/schema.json"
		if schemaErr = c.AddResource(id, doc); schemaErr != nil {
			return
		}
		schema, schemaErr = c.Compile(id)
	})
	if schemaErr != nil {
		t.Fatalf("loading the OSV schema: %v", schemaErr)
	}
	return schema
}

func schemaError(t *testing.T, data []byte) error {
	t.Helper()
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(data))
	if err != nil {
		t.Fatalf("not JSON: %v\n%s", err, data)
	}
	return loadSchema(t).Validate(inst)
}

// validate checks a record against the official schema.
func validate(t *testing.T, name string, data []byte) {
	t.Helper()
	if err := schemaError(t, data); err != nil {
		t.Errorf("%s is not a valid OSV record: %v\n%s", name, err, data)
	}
}

// The validation is not vacuous: the schema rejects what the records avoid.
func TestSchemaRejects(t *testing.T) {
	for _, rec := range []string{
		`{"id": "ENMEI-SA-2026:0001", "modified": "2026-03-02T00:00:00Z"}`,
		`{"id": "x_ENMEI-SA-2026:0001", "modified": "2026-03-02 00:00:00"}`,
		`{"id": "x_ENMEI-SA-2026:0001", "modified": "2026-03-02T00:00:00Z", "affected": [{"package": {"ecosystem": "CentOS:7", "name": "glibc"}}]}`,
		`{"id": "x_ENMEI-SA-2026:0001", "modified": "2026-03-02T00:00:00Z", "references": [{"type": "ADVISORY", "url": "/security/advisory/x"}]}`,
		`{"id": "x_ENMEI-SA-2026:0001", "modified": "2026-03-02T00:00:00Z", "severity": [{"type": "CVSS_V3", "score": "CVSS:4.0/AV:N"}]}`,
	} {
		if schemaError(t, []byte(rec)) == nil {
			t.Errorf("the schema accepts %s", rec)
		}
	}
}

func released(day int) time.Time {
	return time.Date(2026, 3, day, 9, 30, 15, 123456789, time.FixedZone("JST", 9*3600))
}

func mustPkg(t testing.TB, repo, format, nevra string) advisory.Package {
	t.Helper()
	p, err := advisory.ParsePackage(format, nevra)
	if err != nil {
		t.Fatal(err)
	}
	p.Repo = repo
	return p
}

const (
	v3Scope    = "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:C/C:H/I:H/A:H" // 10.0
	v3Critical = "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H" // 9.8
	v3High     = "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:N/A:N" // 7.5
	v3Medium   = "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:L/I:N/A:N" // 5.3
	v4High     = "CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:N/VA:N/SC:N/SI:N/SA:N"
	v4Critical = "CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N"
	v4Max      = "CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:H/SI:H/SA:H"
)

// fixture is a tracker with one product per OS mapping (and two OSV has no
// ecosystem for) and advisories covering: an epoch, deb packages, several
// CVEs, unlisted products, a bugfix, a draft.
func fixture(t testing.TB) *tracker.Snapshot {
	products := []store.Product{
		{ID: "almalinux-9", Name: "AlmaLinux 9 ELS", Format: "rpm", OSID: "almalinux", OSVersion: "9"},
		{ID: "rocky-8", Name: "Rocky Linux 8 ELS", Format: "rpm", OSID: "rocky", OSVersion: "8"},
		{ID: "rhel-7", Name: "RHEL 7 ELS", Format: "rpm", OSID: "rhel", OSVersion: "7"},
		{ID: "debian-12", Name: "Debian 12 ELS", Format: "deb", OSID: "debian", OSVersion: "12"},
		{ID: "ubuntu-22.04", Name: "Ubuntu 22.04 ELS", Format: "deb", OSID: "ubuntu", OSVersion: "22.04"},
		{ID: "centos-7", Name: "CentOS 7 ELS", Format: "rpm", OSID: "centos", OSVersion: "7"},
		{ID: "tools", Name: "Vendor tools", Format: "rpm"},
	}
	repos := []store.Repo{
		{ID: "alma9-baseos-x86_64", ProductID: "almalinux-9", Format: "rpm", Arch: "x86_64"},
		{ID: "alma9-baseos-aarch64", ProductID: "almalinux-9", Format: "rpm", Arch: "aarch64"},
		{ID: "alma9-source", ProductID: "almalinux-9", Format: "rpm", Arch: "src"},
		{ID: "rocky8-baseos", ProductID: "rocky-8", Format: "rpm", Arch: "x86_64"},
		{ID: "rhel7-server", ProductID: "rhel-7", Format: "rpm", Arch: "x86_64"},
		{ID: "centos7-os", ProductID: "centos-7", Format: "rpm", Arch: "x86_64"},
		{ID: "tools-el9", ProductID: "tools", Format: "rpm", Arch: "x86_64"},
		{ID: "bookworm-main", ProductID: "debian-12", Format: "deb", Suite: "bookworm", Component: "main"},
		{ID: "jammy-main", ProductID: "ubuntu-22.04", Format: "deb", Suite: "jammy", Component: "main"},
	}
	advs := []advisory.Advisory{
		{
			ID: "ENMEI-SA-2026:0001", Type: "security", Severity: "Important",
			Title:       advisory.Text{Ja: "openssl のセキュリティ更新", En: "openssl security update"},
			Description: advisory.Text{Ja: "細工された証明書で…", En: "A crafted certificate could crash a TLS client."},
			Issued:      "2026-03-01", Updated: "2026-03-05",
			CVEs: []advisory.CVERef{{ID: "CVE-2026-1001", CVSS: v3High, CVSS4: v4High, Published: "2026-02-20"}},
			Packages: []advisory.Package{
				mustPkg(t, "alma9-baseos-x86_64", "rpm", "openssl-libs-1:3.0.7-28.el9.x86_64"),
				mustPkg(t, "alma9-baseos-aarch64", "rpm", "openssl-libs-1:3.0.7-28.el9.aarch64"),
				mustPkg(t, "alma9-baseos-x86_64", "rpm", "openssl-1:3.0.7-28.el9.x86_64"),
				mustPkg(t, "alma9-source", "rpm", "openssl-1:3.0.7-28.el9.src"),
				mustPkg(t, "alma9-baseos-x86_64", "rpm", "libstdc++-11.4.1-3.el9.x86_64"),
			},
			References: []advisory.Reference{
				{URL: "https://bugzilla.example.com/show_bug.cgi?id=1001&x=1", Type: "bugzilla"},
				{URL: "https://www.cve.org/CVERecord?id=CVE-2026-1001", Type: "cve"},
			},
			Released: released(2),
		},
		{
			// Japanese only: English readers get the Japanese text rather
			// than nothing.
			ID: "ENMEI-SA-2026:0002", Type: "security", Severity: "Moderate",
			Title:       advisory.Text{Ja: "curl のセキュリティ更新"},
			Description: advisory.Text{Ja: "HTTP/2 の処理に欠陥があります。"},
			Issued:      "2026-03-03", Updated: "2026-03-03",
			CVEs: []advisory.CVERef{{ID: "CVE-2026-2002", CVSS: v3Medium}},
			Packages: []advisory.Package{
				mustPkg(t, "bookworm-main", "deb", "curl_7.88.1-10+deb12u12_amd64"),
				mustPkg(t, "bookworm-main", "deb", "libcurl4_7.88.1-10+deb12u12_amd64"),
				mustPkg(t, "bookworm-main", "deb", "libcurl4_7.88.1-10+deb12u12_arm64"),
				mustPkg(t, "jammy-main", "deb", "curl_7.81.0-1ubuntu1.20+enmei1_amd64"),
				mustPkg(t, "bookworm-main", "deb", "tar_1:1.34+dfsg-1.2+deb12u1_amd64"),
			},
			Released: released(4),
		},
		{
			ID: "ENMEI-SA-2026:0010", Type: "security", Severity: "Critical",
			Title:       advisory.Text{En: "glibc security update"},
			Description: advisory.Text{En: "Several flaws were fixed."},
			Issued:      "2026-03-10", Updated: "2026-03-10",
			CVEs: []advisory.CVERef{
				{ID: "CVE-2026-3001", CVSS: v3High},
				{ID: "CVE-2026-3002", CVSS: v3Critical, CVSS4: v4Critical},
				{ID: "CVE-2026-3003"}, // the tracker's record has its vector
			},
			Packages: []advisory.Package{
				mustPkg(t, "rocky8-baseos", "rpm", "glibc-2.28-251.el8_10.2.x86_64"),
				mustPkg(t, "rhel7-server", "rpm", "glibc-2.17-326.el7_9.4.x86_64"),
				mustPkg(t, "centos7-os", "rpm", "glibc-2.17-326.el7_9.4.x86_64"),
				mustPkg(t, "tools-el9", "rpm", "glibc-tools-1.0-1.el9.x86_64"),
			},
			Released: released(10),
		},
		{
			ID: "ENMEI-BA-2026:0011", Type: "bugfix",
			Title:  advisory.Text{En: "tzdata update", Ja: "tzdata の更新"},
			Issued: "2026-03-11",
			Packages: []advisory.Package{
				mustPkg(t, "jammy-main", "deb", "tzdata_2026a-0ubuntu0.22.04.1_all"),
			},
			Released: released(11),
		},
		{
			ID: "ENMEI-SA-2026:0012", Type: "security", Severity: "Low",
			Title:  advisory.Text{En: "draft"},
			Issued: "2026-03-12",
			CVEs:   []advisory.CVERef{{ID: "CVE-2026-4001", CVSS: v3Medium}},
			Packages: []advisory.Package{
				mustPkg(t, "alma9-baseos-x86_64", "rpm", "bash-5.1.8-10.el9.x86_64"),
			},
		},
	}
	byID := map[string]advisory.Advisory{}
	for _, a := range advs {
		byID[a.ID] = a
	}
	records := []advisory.Record{
		{CVE: "CVE-2026-3003", Product: "rocky-8", Status: advisory.Released, CVSS3: v3Medium, Score: 5.3, Published: "2026-03-01"},
		{CVE: "CVE-2026-3003", Product: "centos-7", Status: advisory.Released, CVSS3: v3Scope, Score: 10, Published: "2026-03-01"},
		// Not a product of the advisory: its vector must not count.
		{CVE: "CVE-2026-3003", Product: "almalinux-9", Status: advisory.NotVulnerable, CVSS4: v4Max, Score: 10, Published: "2026-03-01"},
	}
	return tracker.NewSnapshot(7, tracker.Config{OSVPrefix: "x_ENMEI"}, products, repos, byID, records)
}

// goldenName is a record's golden file: the advisory ID with ':' as '-',
// since Go module zips reject ':' in file names.
func goldenName(advisoryID string) string {
	return filepath.Join("testdata", "golden", strings.ReplaceAll(advisoryID, ":", "-")+".json")
}

func TestGolden(t *testing.T) {
	sn := fixture(t)
	if len(sn.Released) != 4 {
		t.Fatalf("%d released advisories", len(sn.Released))
	}
	for _, a := range sn.Released {
		got, err := Record(sn, a, Options{PublicURL: publicURL + "/"})
		if err != nil {
			t.Fatal(err)
		}
		validate(t, a.ID, got)
		path := goldenName(a.ID)
		if *update {
			if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(path, got, 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		want, err := os.ReadFile(path)
		if err != nil {
			t.Fatalf("%v (go test -run TestGolden -update writes it)", err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s differs from %s (go test -update rewrites it):\n%s", a.ID, path, got)
		}
	}
}

// decoded is a record read back, for the tests' checks.
func decoded(t *testing.T, sn *tracker.Snapshot, id string, o Options) map[string]any {
	t.Helper()
	a, ok := sn.Advisory(id, false)
	if !ok {
		t.Fatalf("no released advisory %s", id)
	}
	data, err := Record(sn, a, o)
	if err != nil {
		t.Fatal(err)
	}
	validate(t, id, data)
	var m map[string]any
	if err := json.Unmarshal(data, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

// affectedBy returns the record's affected entries by ecosystem and name.
func affectedBy(m map[string]any) map[string]map[string]any {
	out := map[string]map[string]any{}
	list, _ := m["affected"].([]any)
	for _, e := range list {
		e := e.(map[string]any)
		p := e["package"].(map[string]any)
		out[p["ecosystem"].(string)+" "+p["name"].(string)] = e
	}
	return out
}

func fixedOf(e map[string]any) string {
	r := e["ranges"].([]any)[0].(map[string]any)
	return r["events"].([]any)[1].(map[string]any)["fixed"].(string)
}

func TestRecordEpochAndPurl(t *testing.T) {
	sn := fixture(t)
	m := decoded(t, sn, "ENMEI-SA-2026:0001", Options{PublicURL: publicURL})
	if m["id"] != "x_ENMEI-SA-2026:0001" || m["published"] != "2026-03-02T00:30:15Z" || m["modified"] != "2026-03-05T00:00:00Z" {
		t.Errorf("id %v, published %v, modified %v", m["id"], m["published"], m["modified"])
	}
	aff := affectedBy(m)
	libs := aff["AlmaLinux:9 openssl-libs"]
	if libs == nil {
		t.Fatalf("no AlmaLinux:9 openssl-libs entry in %v", aff)
	}
	// The epoch is part of the fixed version: without it, 3.0.7-28.el9
	// sorts below an installed 1:3.0.7-27.el9 and a patched host looks
	// vulnerable (or the other way round).
	if f := fixedOf(libs); f != "1:3.0.7-28.el9" {
		t.Errorf("fixed %q, want 1:3.0.7-28.el9", f)
	}
	if p := libs["package"].(map[string]any)["purl"]; p != "pkg:rpm/almalinux/openssl-libs?distro=almalinux-9" {
		t.Errorf("purl of a two-architecture entry: %v", p)
	}
	if as := libs["ecosystem_specific"].(map[string]any)["arches"]; !reflect.DeepEqual(as, []any{"aarch64", "x86_64"}) {
		t.Errorf("arches %v", as)
	}
	if p := aff["AlmaLinux:9 libstdc++"]["package"].(map[string]any)["purl"]; p != "pkg:rpm/almalinux/libstdc%2B%2B?arch=x86_64&distro=almalinux-9" {
		t.Errorf("purl %v", p)
	}
	if as := aff["AlmaLinux:9 openssl"]["ecosystem_specific"].(map[string]any)["arches"]; !reflect.DeepEqual(as, []any{"src", "x86_64"}) {
		t.Errorf("openssl arches %v", as)
	}
	if !reflect.DeepEqual(m["aliases"], []any{"CVE-2026-1001"}) {
		t.Errorf("aliases %v", m["aliases"])
	}
	wantSev := []any{
		map[string]any{"type": "CVSS_V3", "score": v3High},
		map[string]any{"type": "CVSS_V4", "score": v4High},
	}
	if !reflect.DeepEqual(m["severity"], wantSev) {
		t.Errorf("severity %v", m["severity"])
	}
	var refs []string
	for _, r := range m["references"].([]any) {
		r := r.(map[string]any)
		refs = append(refs, r["type"].(string)+" "+r["url"].(string))
	}
	wantRefs := []string{
		"ADVISORY " + publicURL + "/security/advisory/ENMEI-SA-2026:0001",
		"ADVISORY https://www.cve.org/CVERecord?id=CVE-2026-1001",
		"REPORT " + publicURL + "/security/cve/CVE-2026-1001",
		"WEB https://bugzilla.example.com/show_bug.cgi?id=1001&x=1",
	}
	if !reflect.DeepEqual(refs, wantRefs) {
		t.Errorf("references:\n%s\nwant\n%s", strings.Join(refs, "\n"), strings.Join(wantRefs, "\n"))
	}
	db := m["database_specific"].(map[string]any)
	if db["advisory"] != "ENMEI-SA-2026:0001" || db["severity"] != "Important" || db["url"] != publicURL+"/security/advisory/ENMEI-SA-2026:0001" {
		t.Errorf("database_specific %v", db)
	}
	if _, ok := db["severity_from"]; ok {
		t.Errorf("severity_from with one CVE: %v", db)
	}
}

func TestRecordDeb(t *testing.T) {
	sn := fixture(t)
	m := decoded(t, sn, "ENMEI-SA-2026:0002", Options{PublicURL: publicURL})
	aff := affectedBy(m)
	cases := map[string]struct{ fixed, purl string }{
		"Debian:12 curl":        {"7.88.1-10+deb12u12", "pkg:deb/debian/curl?arch=amd64&distro=debian-12"},
		"Debian:12 libcurl4":    {"7.88.1-10+deb12u12", "pkg:deb/debian/libcurl4?distro=debian-12"},
		"Debian:12 tar":         {"1:1.34+dfsg-1.2+deb12u1", "pkg:deb/debian/tar?arch=amd64&distro=debian-12"},
		"Ubuntu:22.04:LTS curl": {"7.81.0-1ubuntu1.20+enmei1", "pkg:deb/ubuntu/curl?arch=amd64&distro=ubuntu-22.04"},
	}
	if len(aff) != len(cases) {
		t.Errorf("affected: %v", aff)
	}
	for k, want := range cases {
		e := aff[k]
		if e == nil {
			t.Errorf("no entry %s", k)
			continue
		}
		if f := fixedOf(e); f != want.fixed {
			t.Errorf("%s: fixed %q, want %q", k, f, want.fixed)
		}
		if p := e["package"].(map[string]any)["purl"]; p != want.purl {
			t.Errorf("%s: purl %v, want %s", k, p, want.purl)
		}
	}
	if m["summary"] != "curl のセキュリティ更新" || m["details"] != "HTTP/2 の処理に欠陥があります。" {
		t.Errorf("summary %v, details %v: want the Japanese text when there is no English", m["summary"], m["details"])
	}
}

func TestRecordSeveralCVEs(t *testing.T) {
	sn := fixture(t)
	m := decoded(t, sn, "ENMEI-SA-2026:0010", Options{PublicURL: publicURL})
	if !reflect.DeepEqual(m["aliases"], []any{"CVE-2026-3001", "CVE-2026-3002", "CVE-2026-3003"}) {
		t.Errorf("aliases %v", m["aliases"])
	}
	// The highest-scoring vector of each version, each from its own CVE:
	// v3 from CVE-2026-3003's record for centos-7 (10.0; the advisory has
	// no vector for it), v4 from CVE-2026-3002 (CVE-2026-3003's higher v4
	// is almalinux-9's, which the advisory does not ship).
	wantSev := []any{
		map[string]any{"type": "CVSS_V3", "score": v3Scope},
		map[string]any{"type": "CVSS_V4", "score": v4Critical},
	}
	if !reflect.DeepEqual(m["severity"], wantSev) {
		t.Errorf("severity %v", m["severity"])
	}
	db := m["database_specific"].(map[string]any)
	if !reflect.DeepEqual(db["severity_from"], map[string]any{"CVSS_V3": "CVE-2026-3003", "CVSS_V4": "CVE-2026-3002"}) {
		t.Errorf("severity_from %v", db["severity_from"])
	}
	aff := affectedBy(m)
	if len(aff) != 2 || aff["Rocky Linux:8 glibc"] == nil || aff["Red Hat:enterprise_linux:7 glibc"] == nil {
		t.Errorf("affected %v", aff)
	}
	if p := aff["Red Hat:enterprise_linux:7 glibc"]["package"].(map[string]any)["purl"]; p != "pkg:rpm/redhat/glibc?arch=x86_64&distro=rhel-7" {
		t.Errorf("purl %v", p)
	}
	wantUnlisted := []any{
		map[string]any{"product": "centos-7", "reason": `OSV has no ecosystem for OS "centos"`},
		map[string]any{"product": "tools", "reason": "the product is bound to no OS (enmeid product add --os)"},
	}
	if !reflect.DeepEqual(db["unlisted_products"], wantUnlisted) {
		t.Errorf("unlisted %v", db["unlisted_products"])
	}
}

// A CVE without vectors of its own takes its record's, from one of the
// advisory's products.
func TestSeverityFromRecord(t *testing.T) {
	sn := fixture(t)
	a := advisory.Advisory{ID: "ENMEI-SA-2026:0020", CVEs: []advisory.CVERef{{ID: "CVE-2026-3003"}},
		Packages: []advisory.Package{mustPkg(t, "rocky8-baseos", "rpm", "glibc-2.28-251.el8_10.2.x86_64")}}
	sev, from := severities(sn, a)
	if !reflect.DeepEqual(sev, []severity{{"CVSS_V3", v3Medium}}) || from != nil {
		t.Errorf("severity %v from %v", sev, from)
	}
}

func TestRecordBugfixAndNoPublicURL(t *testing.T) {
	sn := fixture(t)
	m := decoded(t, sn, "ENMEI-BA-2026:0011", Options{})
	if _, ok := m["aliases"]; ok {
		t.Errorf("aliases in a record without CVEs: %v", m["aliases"])
	}
	if _, ok := m["severity"]; ok {
		t.Errorf("severity without CVEs: %v", m["severity"])
	}
	if _, ok := m["references"]; ok {
		t.Errorf("references without a public URL or CVEs: %v", m["references"])
	}
	aff := affectedBy(m)
	if e := aff["Ubuntu:22.04:LTS tzdata"]; e == nil || fixedOf(e) != "2026a-0ubuntu0.22.04.1" {
		t.Errorf("affected %v", aff)
	}
	if m["id"] != "x_ENMEI-BA-2026:0011" || m["database_specific"].(map[string]any)["type"] != "bugfix" {
		t.Errorf("record %v", m)
	}
}

func TestRecordDraft(t *testing.T) {
	sn := fixture(t)
	a, ok := sn.Advisory("ENMEI-SA-2026:0012", true)
	if !ok {
		t.Fatal("no draft")
	}
	if _, err := Record(sn, a, Options{PublicURL: publicURL}); !errs.Is(err, errs.NotFound) {
		t.Errorf("a draft's record: %v, want not found", err)
	}
}

func readZip(t *testing.T, data []byte) map[string][]byte {
	t.Helper()
	zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]byte{}
	var names []string
	for _, f := range zr.File {
		rc, err := f.Open()
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(rc)
		rc.Close()
		if err != nil {
			t.Fatal(err)
		}
		out[f.Name] = b
		names = append(names, f.Name)
		if f.Modified.IsZero() || f.Modified.Year() != 2026 {
			t.Errorf("%s: modified %v, want its record's", f.Name, f.Modified)
		}
	}
	if !slices.IsSorted(names) {
		t.Errorf("entries not sorted: %v", names)
	}
	return out
}

func TestZip(t *testing.T) {
	o := Options{PublicURL: publicURL}
	var first []byte
	for i := 0; i < 3; i++ {
		// A fresh snapshot each time: map orders differ, the bytes must not.
		sn := fixture(t)
		var buf bytes.Buffer
		if err := Zip(sn, o, &buf); err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			first = buf.Bytes()
			continue
		}
		if !bytes.Equal(buf.Bytes(), first) {
			t.Fatal("two zips of the same snapshot differ")
		}
	}
	sn := fixture(t)
	files := readZip(t, first)
	if len(files) != len(sn.Released) {
		t.Errorf("%d files for %d released advisories", len(files), len(sn.Released))
	}
	for _, a := range sn.Released {
		name := RecordID("x_ENMEI", a.ID) + ".json"
		data, ok := files[name]
		if !ok {
			t.Errorf("no %s in the zip", name)
			continue
		}
		validate(t, name, data)
		want, err := Record(sn, a, o)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(data, want) {
			t.Errorf("%s differs from Record's", name)
		}
	}
	for name := range files {
		if strings.Contains(name, "2026:0012") {
			t.Errorf("the draft is in the zip as %s", name)
		}
	}
}

func TestRecordID(t *testing.T) {
	cases := []struct{ prefix, id, want string }{
		{"x_ENMEI", "ENMEI-SA-2026:0001", "x_ENMEI-SA-2026:0001"},
		{"", "ENMEI-SA-2026:0001", "x_ENMEI-SA-2026:0001"},
		{"x_ENMEI", "ENMEI-BA-2026:0002", "x_ENMEI-BA-2026:0002"},
		{"x_ACME", "ENMEI-SA-2026:0001", "x_ACME-ENMEI-SA-2026:0001"},
		{"x_", "ENMEI-SA-2026:0001", "x_ENMEI-SA-2026:0001"},
		{"x_ENMEI-SA", "ENMEI-SA-2026:0001", "x_ENMEI-SA-2026:0001"},
		{"x_ENMEI", "ENMEIX-SA-2026:0001", "x_ENMEI-ENMEIX-SA-2026:0001"},
		// A registered prefix names the database; the advisory ID is then
		// the record's ID as it is (as RLSA-2022:1234 is Rocky's).
		{"ENMEI", "ENMEI-SA-2026:0001", "ENMEI-SA-2026:0001"},
	}
	for _, c := range cases {
		if got := RecordID(c.prefix, c.id); got != c.want {
			t.Errorf("RecordID(%q, %q) = %q, want %q", c.prefix, c.id, got, c.want)
		}
	}
	// Every x_ form is a valid id.
	for _, c := range cases[:7] {
		rec := `{"id": "` + RecordID(c.prefix, c.id) + `", "modified": "2026-03-02T00:00:00Z"}`
		validate(t, c.prefix, []byte(rec))
	}
}

func TestEcosystem(t *testing.T) {
	cases := []struct {
		p                  store.Product
		format             string
		eco, distro, cause string
	}{
		{store.Product{OSID: "almalinux", OSVersion: "9"}, "rpm", "AlmaLinux:9", "almalinux-9", ""},
		{store.Product{OSID: "almalinux", OSVersion: "8.10"}, "rpm", "AlmaLinux:8", "almalinux-8.10", ""},
		{store.Product{OSID: "rocky", OSVersion: "9"}, "rpm", "Rocky Linux:9", "rocky-9", ""},
		{store.Product{OSID: "rhel", OSVersion: "8"}, "rpm", "Red Hat:enterprise_linux:8", "rhel-8", ""},
		{store.Product{OSID: "debian", OSVersion: "11"}, "deb", "Debian:11", "debian-11", ""},
		{store.Product{OSID: "ubuntu", OSVersion: "22.04"}, "deb", "Ubuntu:22.04:LTS", "ubuntu-22.04", ""},
		{store.Product{OSID: "ubuntu", OSVersion: "24.04"}, "deb", "Ubuntu:24.04:LTS", "ubuntu-24.04", ""},
		{store.Product{OSID: "ubuntu", OSVersion: "23.10"}, "deb", "Ubuntu:23.10", "ubuntu-23.10", ""},
		{store.Product{OSID: "ubuntu", OSVersion: "21.04"}, "deb", "Ubuntu:21.04", "ubuntu-21.04", ""},
		{store.Product{OSID: "ubuntu", OSVersion: "22"}, "deb", "", "", `OSV's Ubuntu ecosystem needs the release as YY.MM, the product has "22"`},
		{store.Product{OSID: "debian", OSVersion: "12"}, "rpm", "", "", "rpm packages in a debian product"},
		{store.Product{OSID: "almalinux", OSVersion: ""}, "rpm", "", "", `OS version "" is not a release number`},
		{store.Product{OSID: "sles", OSVersion: "15"}, "rpm", "", "", `OSV has no ecosystem for OS "sles"`},
		{store.Product{OSID: "ol", OSVersion: "8"}, "rpm", "", "", `OSV has no ecosystem for OS "ol"`},
		{store.Product{}, "rpm", "", "", "the product is bound to no OS (enmeid product add --os)"},
	}
	for _, c := range cases {
		c.p.ID = "p"
		sn := tracker.NewSnapshot(1, tracker.Config{}, []store.Product{c.p}, nil, nil, nil)
		eco, _, distro, cause := ecosystem(sn, "p", c.format)
		if eco != c.eco || distro != c.distro || cause != c.cause {
			t.Errorf("%+v %s: %q %q %q, want %q %q %q", c.p, c.format, eco, distro, cause, c.eco, c.distro, c.cause)
		}
		if eco != "" {
			rec := `{"id": "x_T-1", "modified": "2026-03-02T00:00:00Z", "affected": [{"package": {"ecosystem": "` + eco + `", "name": "x"}}]}`
			validate(t, eco, []byte(rec))
		}
	}
}

// Two advisory IDs making one record ID (the tracker's prefix changed from
// ENMEI-SA to SA, say) fail the zip, naming both, rather than one record
// silently replacing the other.
func TestZipCollision(t *testing.T) {
	advs := map[string]advisory.Advisory{}
	for _, id := range []string{"ENMEI-SA-2026:0001", "SA-2026:0001"} {
		advs[id] = advisory.Advisory{ID: id, Type: "bugfix", Title: advisory.Text{En: id}, Issued: "2026-03-01", Released: released(2)}
	}
	sn := tracker.NewSnapshot(1, tracker.Config{OSVPrefix: "x_ENMEI"}, nil, nil, advs, nil)
	err := Zip(sn, Options{}, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "ENMEI-SA-2026:0001") || !strings.Contains(err.Error(), "SA-2026:0001 both") {
		t.Errorf("Zip: %v", err)
	}
}
