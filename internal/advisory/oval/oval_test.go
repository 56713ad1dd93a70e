package oval

import (
	"bytes"
	"encoding/xml"
	"errors"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/enmei-project/enmei/internal/advisory"
	"github.com/enmei-project/enmei/internal/errs"
	"github.com/enmei-project/enmei/internal/store"
	"github.com/enmei-project/enmei/internal/tracker"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

var testOptions = Options{
	PublicURL: "https://security.enmei.io/",
	Vendor:    "Enmei",
	Namespace: "io.enmei",
	Version:   "v1.2.3",
	Now:       time.Date(2026, 5, 1, 9, 30, 0, 0, time.UTC),
}

// fixture is a catalogue of two rpm products and a deb product, with
// advisories that exercise what the definitions must get right: epochs,
// noarch, packages of several architectures, source packages, packages
// of another product, drafts, a bugfix advisory sharing a test with a
// security one, and Debian versions that order differently under rpm's
// rules.
func fixture(t testing.TB) *tracker.Snapshot {
	t.Helper()
	products := []store.Product{
		{ID: "almalinux-9", Name: "AlmaLinux 9 ELS", Format: "rpm", OSID: "almalinux", OSVersion: "9"},
		{ID: "almalinux-8", Name: "AlmaLinux 8 ELS", Format: "rpm", OSID: "almalinux", OSVersion: "8"},
		{ID: "debian-12", Name: "Debian 12 ELS", Format: "deb", OSID: "debian", OSVersion: "12"},
		{ID: "empty-9", Name: "Empty 9", Format: "rpm"},
		{ID: "java", Name: "Java libraries", Format: "maven"},
	}
	repos := []store.Repo{
		{ID: "alma9-x86_64", ProductID: "almalinux-9", Format: "rpm", Arch: "x86_64"},
		{ID: "alma9-aarch64", ProductID: "almalinux-9", Format: "rpm", Arch: "aarch64"},
		{ID: "alma9-src", ProductID: "almalinux-9", Format: "rpm", Arch: "src"},
		{ID: "alma8-x86_64", ProductID: "almalinux-8", Format: "rpm", Arch: "x86_64"},
		{ID: "deb12-main", ProductID: "debian-12", Format: "deb", Suite: "bookworm", Component: "main"},
	}
	rel := func(day int) time.Time { return time.Date(2026, 4, day, 6, 0, 0, 0, time.UTC) }
	advs := []advisory.Advisory{
		{
			ID: "ENMEI-SA-2026:0001", Type: "security", Severity: "Important",
			Title:       advisory.Text{En: "openssl security update", Ja: "openssl のセキュリティ更新"},
			Description: advisory.Text{En: "An out-of-bounds read in X.509 parsing & a timing side channel in RSA <decryption>.", Ja: "X.509 解析の境界外読み取り。"},
			Issued:      "2026-04-01", Updated: "2026-04-01",
			CVEs: []advisory.CVERef{
				{ID: "CVE-2026-1000", CVSS: "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:N/A:N", Published: "2026-03-20"},
				{ID: "CVE-2026-1001", Published: "2026-03-21"},
			},
			Packages: []advisory.Package{
				pkg(t, "alma9-x86_64", "rpm", "openssl-1:3.0.7-28.el9.x86_64"),
				pkg(t, "alma9-x86_64", "rpm", "openssl-libs-1:3.0.7-28.el9.x86_64"),
				pkg(t, "alma9-x86_64", "rpm", "openssl-libs-1:3.0.7-28.el9.i686"),
				pkg(t, "alma9-aarch64", "rpm", "openssl-1:3.0.7-28.el9.aarch64"),
				pkg(t, "alma9-src", "rpm", "openssl-1:3.0.7-28.el9.src"),
				pkg(t, "alma8-x86_64", "rpm", "openssl-1:1.1.1k-12.el8.x86_64"),
			},
			Released: rel(1),
		},
		{
			ID: "ENMEI-SA-2026:0002", Type: "security", Severity: "Low",
			Title:  advisory.Text{Ja: "tzdata の更新"},
			Issued: "2026-04-02", Updated: "2026-04-10",
			CVEs: []advisory.CVERef{{ID: "CVE-2026-1002", CVSS4: "CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:L/VI:N/VA:N/SC:N/SI:N/SA:N", Published: "2026-04-02"}},
			Packages: []advisory.Package{
				pkg(t, "alma9-x86_64", "rpm", "tzdata-2026a-1.el9.noarch"),
				pkg(t, "alma9-aarch64", "rpm", "tzdata-2026a-1.el9.noarch"),
			},
			Released: rel(2),
		},
		{
			// Shares openssl's object with 2026:0001, not its state.
			ID: "ENMEI-SA-2025:0042", Type: "security", Severity: "Critical",
			Title:  advisory.Text{En: "openssl security update"},
			Issued: "2025-12-01",
			CVEs:   []advisory.CVERef{{ID: "CVE-2025-9999", CVSS: "CVSS:3.0/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"}},
			Packages: []advisory.Package{
				pkg(t, "alma9-x86_64", "rpm", "openssl-1:3.0.7-27.el9.x86_64"),
			},
			Released: time.Date(2025, 12, 1, 6, 0, 0, 0, time.UTC),
		},
		{
			// Shares openssl-libs's test with 2026:0001.
			ID: "ENMEI-BA-2026:0001", Type: "bugfix",
			Title:  advisory.Text{En: "openssl-libs bug fix update"},
			Issued: "2026-04-03",
			Packages: []advisory.Package{
				pkg(t, "alma9-x86_64", "rpm", "openssl-libs-1:3.0.7-28.el9.x86_64"),
				pkg(t, "alma9-x86_64", "rpm", "openssl-libs-1:3.0.7-28.el9.i686"),
			},
			Released: rel(3),
		},
		{
			ID: "ENMEI-SA-2026:0005", Type: "security", Severity: "Moderate",
			Title:    advisory.Text{En: "kernel security update (AlmaLinux 8 only)"},
			Issued:   "2026-04-04",
			CVEs:     []advisory.CVERef{{ID: "CVE-2026-1005"}},
			Packages: []advisory.Package{pkg(t, "alma8-x86_64", "rpm", "kernel-4.18.0-553.el8.x86_64")},
			Released: rel(4),
		},
		{
			ID: "ENMEI-SA-2026:0006", Type: "security", Severity: "Critical",
			Title:    advisory.Text{En: "a draft: never published"},
			Issued:   "2026-04-05",
			CVEs:     []advisory.CVERef{{ID: "CVE-2026-1006"}},
			Packages: []advisory.Package{pkg(t, "alma9-x86_64", "rpm", "bash-5.1.8-10.el9.x86_64")},
		},
		{
			ID: "ENMEI-SA-2026:0003", Type: "security", Severity: "Important",
			Title:       advisory.Text{En: "openssl security update"},
			Description: advisory.Text{En: "Line one.\nLine two."},
			Issued:      "2026-04-06",
			CVEs:        []advisory.CVERef{{ID: "CVE-2026-1000", CVSS: "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:N/A:N"}},
			Packages: []advisory.Package{
				pkg(t, "deb12-main", "deb", "libssl3_3.0.15-1~deb12u1+els1_amd64"),
				pkg(t, "deb12-main", "deb", "libssl3_3.0.15-1~deb12u1+els1_arm64"),
				pkg(t, "deb12-main", "deb", "openssl_3.0.15-1~deb12u1+els1_amd64"),
			},
			Released: rel(6),
		},
		{
			ID: "ENMEI-SA-2026:0004", Type: "security", Severity: "Moderate",
			Title:    advisory.Text{En: "tar security update"},
			Issued:   "2026-04-07",
			CVEs:     []advisory.CVERef{{ID: "CVE-2026-1004"}},
			Packages: []advisory.Package{pkg(t, "deb12-main", "deb", "tar_1:1.34+dfsg-1.2+deb12u1+els1_amd64")},
			Released: rel(7),
		},
	}
	byID := map[string]advisory.Advisory{}
	for _, a := range advs {
		byID[a.ID] = a
	}
	return tracker.NewSnapshot(1, tracker.Config{}, products, repos, byID, nil)
}

func pkg(t testing.TB, repo, format, nevra string) advisory.Package {
	t.Helper()
	p, err := advisory.ParsePackage(format, nevra)
	if err != nil {
		t.Fatal(err)
	}
	p.Repo = repo
	return p
}

// TestGolden compares each product's document with testdata/PRODUCT.xml.
// Regenerate after an intended change with
//
//	go test ./internal/advisory/oval/ -run TestGolden -update
//
// and review the diff.
func TestGolden(t *testing.T) {
	sn := fixture(t)
	for _, product := range []string{"almalinux-9", "debian-12"} {
		t.Run(product, func(t *testing.T) {
			got, err := Definitions(sn, product, testOptions)
			if err != nil {
				t.Fatal(err)
			}
			file := filepath.Join("testdata", product+".xml")
			if *update {
				if err := os.WriteFile(file, got, 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(file)
			if err != nil {
				t.Fatalf("%v (run with -update to create it)", err)
			}
			if !bytes.Equal(want, got) {
				t.Errorf("%s differs from the golden file (run with -update if intended):\n%s", file, lineDiff(string(want), string(got)))
			}
			again, err := Definitions(fixture(t), product, testOptions)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, again) {
				t.Errorf("a second rendering of the same catalogue differs:\n%s", lineDiff(string(got), string(again)))
			}
		})
	}
}

// parsed is what the tests read back of a document.
type parsed struct {
	Generator struct {
		SchemaVersion string `xml:"schema_version"`
		Timestamp     string `xml:"timestamp"`
	} `xml:"generator"`
	Definitions []struct {
		ID       string `xml:"id,attr"`
		Version  string `xml:"version,attr"`
		Title    string `xml:"metadata>title"`
		Platform string `xml:"metadata>affected>platform"`
		Criteria []struct {
			TestRef string `xml:"test_ref,attr"`
			Comment string `xml:"comment,attr"`
		} `xml:"criteria>criterion"`
	} `xml:"definitions>definition"`
	Tests struct {
		Any []struct {
			XMLName xml.Name
			ID      string `xml:"id,attr"`
		} `xml:",any"`
	} `xml:"tests"`
	Objects struct {
		Any []struct {
			ID   string `xml:"id,attr"`
			Name string `xml:"name"`
		} `xml:",any"`
	} `xml:"objects"`
	States struct {
		Any []struct {
			ID   string `xml:"id,attr"`
			Arch string `xml:"arch"`
			EVR  string `xml:"evr"`
		} `xml:",any"`
	} `xml:"states"`
}

func parse(t testing.TB, b []byte) parsed {
	t.Helper()
	var p parsed
	if err := xml.Unmarshal(b, &p); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestContent(t *testing.T) {
	sn := fixture(t)
	b, err := Definitions(sn, "almalinux-9", testOptions)
	if err != nil {
		t.Fatal(err)
	}
	p := parse(t, b)
	var ids []string
	for _, d := range p.Definitions {
		ids = append(ids, d.ID)
	}
	// Sorted by namespace, then number; the AlmaLinux 8 advisory, the
	// draft and the Debian advisories are not in the file.
	want := []string{
		"oval:io.enmei.enmei-ba:def:202600001",
		"oval:io.enmei.enmei-sa:def:202500042",
		"oval:io.enmei.enmei-sa:def:202600001",
		"oval:io.enmei.enmei-sa:def:202600002",
	}
	if fmt.Sprint(ids) != fmt.Sprint(want) {
		t.Errorf("definitions %v, want %v", ids, want)
	}
	if p.Generator.SchemaVersion != "5.11" || p.Generator.Timestamp != "2026-05-01T09:30:00" {
		t.Errorf("generator %+v", p.Generator)
	}
	// Objects are one per package name; the bugfix advisory reuses the
	// security advisory's openssl-libs test.
	if len(p.Objects.Any) != 3 || len(p.Tests.Any) != 4 || len(p.States.Any) != 4 {
		t.Errorf("%d objects, %d tests, %d states; want 3, 4, 4", len(p.Objects.Any), len(p.Tests.Any), len(p.States.Any))
	}
	byID := map[string]int{}
	for i, d := range p.Definitions {
		byID[d.ID] = i
	}
	ba := p.Definitions[byID["oval:io.enmei.enmei-ba:def:202600001"]]
	sa := p.Definitions[byID["oval:io.enmei.enmei-sa:def:202600001"]]
	if len(ba.Criteria) != 1 || len(sa.Criteria) != 2 || ba.Criteria[0].TestRef != sa.Criteria[1].TestRef {
		t.Errorf("criteria not shared: %+v / %+v", ba.Criteria, sa.Criteria)
	}
	if sa.Criteria[0].Comment != "openssl is earlier than 1:3.0.7-28.el9" {
		t.Errorf("comment %q", sa.Criteria[0].Comment)
	}
	var states []string
	for _, s := range p.States.Any {
		states = append(states, s.EVR+" "+s.Arch)
	}
	// Architectures: as shipped, none for noarch, src never.
	wantStates := []string{
		"0:2026a-1.el9 ",
		"1:3.0.7-27.el9 x86_64",
		"1:3.0.7-28.el9 ^(aarch64|x86_64)$",
		"1:3.0.7-28.el9 ^(i686|x86_64)$",
	}
	if fmt.Sprint(states) != fmt.Sprint(wantStates) {
		t.Errorf("states %q, want %q", states, wantStates)
	}
	tz := p.Definitions[byID["oval:io.enmei.enmei-sa:def:202600002"]]
	if tz.Version != "20260410" || tz.Title != "ENMEI-SA-2026:0002: tzdata の更新 (Low)" || tz.Platform != "AlmaLinux 9 ELS" {
		t.Errorf("tzdata definition %+v", tz)
	}
}

// Without Now, the timestamp is the newest release in the file, so the
// document still depends on the snapshot alone; without a public URL,
// the advisory reference has no link.
func TestDefaults(t *testing.T) {
	b, err := Definitions(fixture(t), "almalinux-9", Options{})
	if err != nil {
		t.Fatal(err)
	}
	p := parse(t, b)
	if p.Generator.Timestamp != "2026-04-03T06:00:00" {
		t.Errorf("timestamp %q, want the newest release, 2026-04-03T06:00:00", p.Generator.Timestamp)
	}
	if !bytes.Contains(b, []byte(`<reference source="enmei" ref_id="ENMEI-SA-2026:0001"/>`)) ||
		!bytes.Contains(b, []byte(`href="https://www.cve.org/CVERecord?id=CVE-2026-1000"`)) ||
		!bytes.Contains(b, []byte(`id="oval:enmei.enmei-sa:def:202600001"`)) {
		t.Errorf("defaults not applied:\n%s", b)
	}
}

// The same catalogue gives the same bytes whatever order the snapshot
// lists advisories and advisories list packages in.
func TestDeterministic(t *testing.T) {
	want, err := Definitions(fixture(t), "almalinux-9", testOptions)
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for i := 0; i < 10; i++ {
		sn := fixture(t)
		rng.Shuffle(len(sn.Released), func(i, j int) { sn.Released[i], sn.Released[j] = sn.Released[j], sn.Released[i] })
		for _, a := range sn.Released {
			rng.Shuffle(len(a.Packages), func(i, j int) { a.Packages[i], a.Packages[j] = a.Packages[j], a.Packages[i] })
			rng.Shuffle(len(a.CVEs), func(i, j int) { a.CVEs[i], a.CVEs[j] = a.CVEs[j], a.CVEs[i] })
		}
		got, err := Definitions(sn, "almalinux-9", testOptions)
		if err != nil {
			t.Fatal(err)
		}
		// CVEs are listed in the advisory's order, which is the
		// advisory's content; everything else must not move.
		if !bytes.Equal(stripCVEs(want), stripCVEs(got)) {
			t.Fatalf("reordered input gives different output:\n%s", lineDiff(string(stripCVEs(want)), string(stripCVEs(got))))
		}
	}
}

func stripCVEs(b []byte) []byte {
	var out [][]byte
	for _, l := range bytes.Split(b, []byte("\n")) {
		if !bytes.Contains(l, []byte("CVE-")) {
			out = append(out, l)
		}
	}
	return bytes.Join(out, []byte("\n"))
}

func TestDebianContent(t *testing.T) {
	b, err := Definitions(fixture(t), "debian-12", testOptions)
	if err != nil {
		t.Fatal(err)
	}
	p := parse(t, b)
	if p.Generator.SchemaVersion != "5.11.1" {
		t.Errorf("schema_version %q, want 5.11.1 (debian_evr_string)", p.Generator.SchemaVersion)
	}
	var evrs []string
	for _, s := range p.States.Any {
		if s.Arch != "" {
			t.Errorf("deb state %s has an architecture %q", s.ID, s.Arch)
		}
		evrs = append(evrs, s.EVR)
	}
	want := []string{"0:3.0.15-1~deb12u1+els1", "1:1.34+dfsg-1.2+deb12u1+els1"}
	if fmt.Sprint(evrs) != fmt.Sprint(want) {
		t.Errorf("states %v, want %v", evrs, want)
	}
	if !bytes.Contains(b, []byte(`<linux-def:evr datatype="debian_evr_string" operation="less than">0:3.0.15-1~deb12u1+els1</linux-def:evr>`)) {
		t.Errorf("no debian_evr_string state in\n%s", b)
	}
}

func TestErrors(t *testing.T) {
	sn := fixture(t)
	if _, err := Definitions(sn, "nope", testOptions); errs.KindOf(err) != errs.NotFound {
		t.Errorf("unknown product: %v", err)
	}
	if _, err := Definitions(sn, "empty-9", testOptions); errs.KindOf(err) != errs.NotFound {
		t.Errorf("product without advisories: %v", err)
	}
	if _, err := Definitions(sn, "java", testOptions); errs.KindOf(err) != errs.Invalid {
		t.Errorf("maven product: %v", err)
	}
	o := testOptions
	o.Namespace = "io enmei"
	if _, err := Definitions(sn, "almalinux-9", o); errs.KindOf(err) != errs.Invalid {
		t.Errorf("bad namespace: %v", err)
	}
	big := advisory.Advisory{ID: "ENMEI-SA-2026:100000", Type: "security", Severity: "Low", Issued: "2026-04-01",
		Packages: []advisory.Package{pkg(t, "alma9-x86_64", "rpm", "bash-5.1.8-10.el9.x86_64")}, Released: time.Now()}
	sn2 := tracker.NewSnapshot(1, tracker.Config{}, []store.Product{sn.Products["almalinux-9"]}, []store.Repo{sn.Repos["alma9-x86_64"]},
		map[string]advisory.Advisory{big.ID: big}, nil)
	_, err := Definitions(sn2, "almalinux-9", testOptions)
	var e *errs.Error
	if !errors.As(err, &e) || e.Kind != errs.Invalid || !strings.Contains(err.Error(), "100000") {
		t.Errorf("number too big: %v", err)
	}
}

// Two advisories that would share a definition ID make an error, not a
// file in which one silently replaces the other.
func TestCollision(t *testing.T) {
	sn := fixture(t)
	var advs = map[string]advisory.Advisory{}
	for _, id := range []string{"ENMEI-SA-2026:0001", "ENMEI-SA-2026:00001"} {
		advs[id] = advisory.Advisory{ID: id, Type: "security", Severity: "Low", Issued: "2026-04-01",
			Packages: []advisory.Package{pkg(t, "alma9-x86_64", "rpm", "bash-5.1.8-10.el9.x86_64")}, Released: time.Now()}
	}
	sn2 := tracker.NewSnapshot(1, tracker.Config{}, []store.Product{sn.Products["almalinux-9"]}, []store.Repo{sn.Repos["alma9-x86_64"]}, advs, nil)
	if _, err := Definitions(sn2, "almalinux-9", testOptions); errs.KindOf(err) != errs.Invalid || !strings.Contains(err.Error(), "same OVAL definition ID") {
		t.Errorf("colliding IDs: %v", err)
	}
}

func TestDefinitionID(t *testing.T) {
	for id, want := range map[string]string{
		"ENMEI-SA-2026:0001":  "oval:io.enmei.enmei-sa:def:202600001",
		"ENMEI-SA-2026:99999": "oval:io.enmei.enmei-sa:def:202699999",
		"X.Y_Z-1999:12345":    "oval:io.enmei.x.y_z:def:199912345",
	} {
		got, err := DefinitionID("io.enmei", id)
		if err != nil || got != want {
			t.Errorf("DefinitionID(%s) = %q, %v; want %q", id, got, err, want)
		}
	}
	for _, id := range []string{"ENMEI-SA-2026:100000", "ENMEI-SA-0000:0000", "nonsense"} {
		if got, err := DefinitionID("io.enmei", id); err == nil {
			t.Errorf("DefinitionID(%s) = %q, want an error", id, got)
		}
	}
}

func TestNamespace(t *testing.T) {
	for _, c := range []struct {
		o    Options
		want string
	}{
		{Options{Namespace: "com.example.els"}, "com.example.els"},
		{Options{PublicURL: "https://security.Example.com:8443/x"}, "com.example.security"},
		{Options{PublicURL: "https://www.example.co.jp"}, "jp.co.example"},
		{Options{PublicURL: "http://127.0.0.1:8080", Vendor: "Enmei Project K.K."}, "enmei-project-k.k"},
		{Options{}, "enmei"},
	} {
		got, err := c.o.namespace()
		if err != nil || got != c.want {
			t.Errorf("%+v: namespace %q, %v; want %q", c.o, got, err, c.want)
		}
	}
}

// lineDiff shows the first differing lines of two texts.
func lineDiff(want, got string) string {
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
	var out strings.Builder
	n := 0
	for i := 0; i < len(w) || i < len(g); i++ {
		var a, b string
		if i < len(w) {
			a = w[i]
		}
		if i < len(g) {
			b = g[i]
		}
		if a != b {
			fmt.Fprintf(&out, "line %d:\n- %s\n+ %s\n", i+1, a, b)
			if n++; n == 10 {
				break
			}
		}
	}
	return out.String()
}
