package advisory

import (
	"strings"
	"testing"

	"github.com/enmei-project/enmei/internal/bizcal"
)

func repos(id string) (RepoInfo, bool) {
	switch id {
	case "el9":
		return RepoInfo{Product: "alma9", Format: "rpm"}, true
	case "deb12":
		return RepoInfo{Product: "debian12", Format: "deb"}, true
	}
	return RepoInfo{}, false
}

func TestParsePackage(t *testing.T) {
	for _, tt := range []struct {
		format, in                       string
		name, epoch, ver, rel, arch, evr string
	}{
		{"rpm", "openssl-1:3.0.7-28.el9_4.x86_64", "openssl", "1", "3.0.7", "28.el9_4", "x86_64", "1:3.0.7-28.el9_4"},
		{"rpm", "openssl-libs-3.0.7-28.el9.noarch", "openssl-libs", "", "3.0.7", "28.el9", "noarch", "3.0.7-28.el9"},
		{"rpm", "python3.11-pip-22.3.1-4.el9~bootstrap.noarch", "python3.11-pip", "", "22.3.1", "4.el9~bootstrap", "noarch", "22.3.1-4.el9~bootstrap"},
		{"rpm", "kernel-0:5.14.0-427.el9.x86_64", "kernel", "0", "5.14.0", "427.el9", "x86_64", "5.14.0-427.el9"},
		{"deb", "openssl_3.0.15-1~deb12u1_amd64", "openssl", "", "3.0.15-1~deb12u1", "", "amd64", "3.0.15-1~deb12u1"},
		{"deb", "libc6_1:2.36-9+deb12u9_arm64", "libc6", "1", "2.36-9+deb12u9", "", "arm64", "1:2.36-9+deb12u9"},
	} {
		p, err := ParsePackage(tt.format, tt.in)
		if err != nil {
			t.Errorf("ParsePackage(%s, %q): %v", tt.format, tt.in, err)
			continue
		}
		if p.Name != tt.name || p.Epoch != tt.epoch || p.Version != tt.ver || p.Release != tt.rel || p.Arch != tt.arch || p.EVR() != tt.evr {
			t.Errorf("ParsePackage(%q) = %+v (EVR %s), want %s %s %s %s %s (%s)", tt.in, p, p.EVR(), tt.name, tt.epoch, tt.ver, tt.rel, tt.arch, tt.evr)
		}
	}
	for _, bad := range []struct{ format, in string }{
		{"rpm", "openssl"}, {"rpm", "openssl.x86_64"}, {"rpm", "openssl-3.0.x86_64"}, {"rpm", "openssl-x:1-2.x86_64"},
		{"rpm", "-1.0-1.x86_64"}, {"deb", "openssl_3.0"}, {"deb", "a_b_c_d"}, {"maven", "x"}, {"rpm", "a b-1-1.x86_64"},
	} {
		if _, err := ParsePackage(bad.format, bad.in); err == nil {
			t.Errorf("ParsePackage(%s, %q) accepted it", bad.format, bad.in)
		}
	}
	p, _ := ParsePackage("rpm", "openssl-3.0.7-28.el9.x86_64")
	if p.EVRWithEpoch() != "0:3.0.7-28.el9" {
		t.Errorf("EVRWithEpoch = %s, want 0:3.0.7-28.el9", p.EVRWithEpoch())
	}
}

const sampleYAML = `
- type: security
  severity: high
  issued: "2026-04-01"
  title: {ja: "重要: openssl", en: "Important: openssl"}
  cves:
    - {id: cve-2026-1000, cvss: "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"}
    - {id: CVE-2026-1001, cvss: "CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N", published: "2026-03-20"}
  packages:
    - {repo: el9, nevra: "openssl-1:3.0.7-28.el9.x86_64"}
    - {repo: deb12, nevra: "openssl_3.0.15-1~deb12u1_amd64"}
  references: ["https://example.com/a", {url: "https://bugzilla.example.com/1", type: bugzilla}]
- id: ACME-SA-2026:0007
  type: bugfix
  issued: "2026-04-02"
  title: {en: "tzdata update"}
  packages: [{repo: el9, nevra: "tzdata-2026a-1.el9.noarch"}]
`

func TestParseAndCheck(t *testing.T) {
	advs, err := Parse("sample.yaml", []byte(sampleYAML))
	if err != nil {
		t.Fatal(err)
	}
	if len(advs) != 2 {
		t.Fatalf("parsed %d advisories, want 2", len(advs))
	}
	for i := range advs {
		if err := advs[i].Check(repos); err != nil {
			t.Fatalf("Check(%d): %v", i, err)
		}
	}
	a := advs[0]
	if a.Severity != "Important" || a.Type != "security" || a.Updated != "2026-04-01" {
		t.Errorf("normalised = %s %s %s", a.Severity, a.Type, a.Updated)
	}
	if a.CVEs[0].ID != "CVE-2026-1000" || a.CVEs[0].Published != "2026-04-01" {
		t.Errorf("CVE 0 = %+v; want upper case and the issued date as disclosure", a.CVEs[0])
	}
	if a.CVEs[1].CVSS != "" || !strings.HasPrefix(a.CVEs[1].CVSS4, "CVSS:4.0/") || a.CVEs[1].Published != "2026-03-20" {
		t.Errorf("a v4 vector given as cvss moves to cvss4: %+v", a.CVEs[1])
	}
	if a.Packages[0].Epoch != "1" || a.Packages[0].Format != "rpm" || a.Packages[1].Format != "deb" {
		t.Errorf("packages = %+v", a.Packages)
	}
	if a.References[0].Type != "other" || a.References[1].Type != "bugzilla" {
		t.Errorf("references = %+v", a.References)
	}
	got := a.Products(func(r string) string { i, _ := repos(r); return i.Product })
	if strings.Join(got, ",") != "alma9,debian12" {
		t.Errorf("Products = %v", got)
	}

	// JSON, one object.
	one, err := Parse("one.json", []byte(`{"id": "X-2026:0001", "type": "enhancement", "issued": "2026-01-05", "title": {"ja": "機能追加"}, "packages": [{"repo": "el9", "nevra": "a-1-1.noarch"}]}`))
	if err != nil || len(one) != 1 || one[0].Check(repos) != nil {
		t.Errorf("one JSON advisory: %v %+v", err, one)
	}
}

func TestCheckRefusals(t *testing.T) {
	base := func() Advisory {
		return Advisory{Type: "security", Severity: "low", Issued: "2026-01-01", Title: Text{En: "t"},
			CVEs: []CVERef{{ID: "CVE-2026-1234"}}, Packages: []Package{{Repo: "el9", NEVRA: "a-1-1.x86_64"}}}
	}
	for _, tt := range []struct {
		name   string
		change func(*Advisory)
		want   string
	}{
		{"bad id", func(a *Advisory) { a.ID = "ENMEI-2026-1" }, "PREFIX-YYYY:NNNN"},
		{"bad type", func(a *Advisory) { a.Type = "hotfix" }, "type"},
		{"no severity", func(a *Advisory) { a.Severity = "" }, "severity"},
		{"bad severity", func(a *Advisory) { a.Severity = "urgent" }, "severity"},
		{"no title", func(a *Advisory) { a.Title = Text{} }, "title"},
		{"bad date", func(a *Advisory) { a.Issued = "2026-02-30" }, "issued"},
		{"bad cve", func(a *Advisory) { a.CVEs[0].ID = "CVE-26-1" }, "CVE ID"},
		{"twice", func(a *Advisory) { a.CVEs = append(a.CVEs, a.CVEs[0]) }, "twice"},
		{"no cves", func(a *Advisory) { a.CVEs = nil }, "at least one CVE"},
		{"bad vector", func(a *Advisory) { a.CVEs[0].CVSS = "CVSS:3.1/AV:X" }, "CVSS"},
		{"no packages", func(a *Advisory) { a.Packages = nil }, "no packages"},
		{"unknown repo", func(a *Advisory) { a.Packages[0].Repo = "nope" }, "not known"},
		{"bad nevra", func(a *Advisory) { a.Packages[0].NEVRA = "a.x86_64" }, "name-[epoch:]version-release.arch"},
		{"bad reference", func(a *Advisory) { a.References = []Reference{{URL: "javascript:alert(1)"}} }, "http(s)"},
	} {
		a := base()
		tt.change(&a)
		err := a.Check(repos)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: Check = %v, want an error mentioning %q", tt.name, err, tt.want)
		}
	}
	if _, err := Parse("x.yaml", []byte("id: [unclosed")); err == nil {
		t.Error("Parse accepted broken YAML")
	}
	if _, err := Parse("x.json", []byte(`{"id": "A-2026:0001", "colour": "red"}`)); err == nil || !strings.Contains(err.Error(), "colour") {
		t.Errorf("Parse of an unknown field = %v, want it named", err)
	}
	if _, err := Parse("x.json", []byte("  ")); err == nil {
		t.Error("Parse accepted an empty file")
	}
}

func TestScores(t *testing.T) {
	for _, tt := range []struct {
		vector string
		want   float64
	}{
		{"CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", 9.8},
		{"CVSS:3.1/AV:L/AC:L/PR:L/UI:N/S:U/C:H/I:N/A:N", 5.5},
		{"CVSS:3.1/AV:N/AC:H/PR:N/UI:N/S:U/C:H/I:H/A:H", 8.1},
		{"CVSS:3.0/AV:N/AC:L/PR:N/UI:R/S:C/C:L/I:L/A:N", 6.1},
		{"CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:N", 0},
	} {
		got, err := Score3(tt.vector)
		if err != nil || got != tt.want {
			t.Errorf("Score3(%s) = %v, %v; want %v", tt.vector, got, err, tt.want)
		}
	}
	if got, err := Score4("CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N"); err != nil || got != 9.3 {
		t.Errorf("Score4 = %v, %v; want 9.3", got, err)
	}
	r := Record{CVSS4: "CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N"}
	if err := r.SetScore(); err != nil || r.Score != 9.3 {
		t.Errorf("a v4-only record scores %v, %v; want 9.3", r.Score, err)
	}
	r.CVSS3 = "CVSS:3.1/AV:L/AC:L/PR:L/UI:N/S:U/C:H/I:N/A:N"
	if err := r.SetScore(); err != nil || r.Score != 5.5 {
		t.Errorf("with v3 and v4 the v3 score counts: %v, %v", r.Score, err)
	}
	for _, bad := range []string{"AV:N/AC:L", "CVSS:3.1/AV:N", "CVSS:2.0/AV:N/AC:L/Au:N/C:C/I:C/A:C"} {
		if _, err := Score3(bad); err == nil {
			t.Errorf("Score3(%q) accepted it", bad)
		}
	}
	for score, want := range map[float64]string{0: "none", 3.9: "low", 4: "medium", 6.9: "medium", 7: "high", 8.9: "high", 9: "critical", 10: "critical"} {
		if got := Rating(score); got != want {
			t.Errorf("Rating(%v) = %s, want %s", score, got, want)
		}
	}
}

func TestRecordCheckAndVEX(t *testing.T) {
	for _, tt := range []struct {
		r  Record
		ok bool
	}{
		{Record{CVE: "CVE-2026-1234", Status: NeedsTriage}, true},
		{Record{CVE: "CVE-2026-1234", Status: Ignored}, false},
		{Record{CVE: "CVE-2026-1234", Status: Ignored, Statement: "Low impact on ELS."}, true},
		{Record{CVE: "CVE-2026-1234", Status: NotVulnerable}, false},
		{Record{CVE: "CVE-2026-1234", Status: NotVulnerable, Statement: "Not built.", Justification: "component_not_present"}, true},
		{Record{CVE: "CVE-2026-1234", Status: NotVulnerable, Statement: "x", Justification: "because"}, false},
		{Record{CVE: "CVE-2026-1234", Status: "fixed"}, false},
		{Record{CVE: "CVE-2026-1234", Status: InProgress, Override: &Override{Targeted: true}}, false},
		{Record{CVE: "CVE-2026-1234", Status: InProgress, Published: "yesterday"}, false},
	} {
		if err := tt.r.Check(); (err == nil) != tt.ok {
			t.Errorf("Check(%+v) = %v, want ok=%v", tt.r, err, tt.ok)
		}
	}
	for st, want := range map[Status][2]string{
		Released: {VEXFixed, ""}, AlreadyFixed: {VEXFixed, ""},
		NotVulnerable: {VEXKnownNotAffected, ""},
		Ignored:       {VEXKnownAffected, RemedyNoFixPlanned},
		NeedsTriage:   {VEXUnderInvestigation, ""}, InResearch: {VEXUnderInvestigation, ""},
		InProgress: {VEXKnownAffected, RemedyNoneAvailable}, InTesting: {VEXKnownAffected, RemedyNoneAvailable}, InRollout: {VEXKnownAffected, RemedyNoneAvailable},
	} {
		ps, rem := VEX(st)
		if ps != want[0] || rem != want[1] {
			t.Errorf("VEX(%s) = %s, %s; want %s, %s", st, ps, rem, want[0], want[1])
		}
	}
	if len(Statuses) != 9 {
		t.Errorf("%d statuses, want the nine", len(Statuses))
	}
}

func TestPolicy(t *testing.T) {
	p := DefaultPolicy(bizcal.Calendar{})
	today := bizcal.D(2026, 5, 20)
	for _, tt := range []struct {
		name              string
		r                 Record
		targeted, overdue bool
		due               string
		left              int
	}{
		// Disclosed Tue 28 Apr 2026: Golden Week (29 Apr, 3–6 May) and
		// weekends skipped: 30 Apr, 1, 7, 8, 11–15, 18–22 May → the 14th
		// business day is Fri 22 May; on 20 May two are left.
		{"golden week", Record{Score: 9.8, Published: "2026-04-28", Status: InTesting}, true, false, "2026-05-22", 2},
		{"just below", Record{Score: 6.9, Published: "2026-04-28", Status: InTesting}, false, false, "", 0},
		// Wed 1 Apr → Tue 21 Apr; from then to 20 May 17 business days
		// passed (22–24, 27, 28, 30 Apr, 1, 7, 8, 11–15, 18–20 May).
		{"exactly 7.0", Record{Score: 7.0, Published: "2026-04-01", Status: InProgress}, true, true, "2026-04-21", -17},
		{"released late is not overdue", Record{Score: 7.0, Published: "2026-04-01", Status: Released}, true, false, "2026-04-21", -17},
		{"override skips", Record{Score: 9.8, Published: "2026-04-01", Status: InProgress, Override: &Override{Targeted: false, Reason: "r"}}, false, false, "", 0},
		{"override targets", Record{Score: 3.1, Published: "2026-05-19", Status: NeedsTriage, Override: &Override{Targeted: true, Reason: "r"}}, true, false, "2026-06-08", 13},
		{"no date", Record{Score: 9.8, Status: NeedsTriage}, true, false, "", 0},
	} {
		a := p.Assess(tt.r, today)
		if a.Targeted != tt.targeted || a.Due != tt.due || a.Overdue != tt.overdue || (a.Due != "" && a.DaysLeft != tt.left) {
			t.Errorf("%s: Assess = %+v; want targeted=%v due=%q overdue=%v left=%d", tt.name, a, tt.targeted, tt.due, tt.overdue, tt.left)
		}
	}
}
