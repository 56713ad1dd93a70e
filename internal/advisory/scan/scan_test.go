package scan

import (
	"fmt"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/enmei-project/enmei/internal/advisory"
	"github.com/enmei-project/enmei/internal/inventory"
)

const product = "almalinux-9"

// rpmPkg builds an advisory's rpm package from its NEVRA.
func rpmPkg(t testing.TB, nevra string) advisory.Package {
	t.Helper()
	p, err := advisory.ParsePackage("rpm", nevra)
	if err != nil {
		t.Fatal(err)
	}
	p.Repo = "alma9-baseos"
	return p
}

func debPkg(t testing.TB, nva string) advisory.Package {
	t.Helper()
	p, err := advisory.ParsePackage("deb", nva)
	if err != nil {
		t.Fatal(err)
	}
	p.Repo = "deb12-main"
	return p
}

func sec(id, severity string, cves []string, pkgs ...advisory.Package) advisory.Advisory {
	a := advisory.Advisory{ID: id, Type: advisory.TypeSecurity, Severity: severity, Issued: "2026-03-01",
		Packages: pkgs, Released: time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC)}
	for _, c := range cves {
		a.CVEs = append(a.CVEs, advisory.CVERef{ID: c, CVSS: "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"})
	}
	return a
}

func rpmInstalled(name, epoch, version, release, arch string) Installed {
	return Installed{Name: name, Epoch: epoch, Version: version, Release: release, Arch: arch, Format: "rpm"}
}

func ids(fs []Finding) []string {
	var out []string
	for _, f := range fs {
		adv := f.Advisory
		if adv == "" {
			adv = "-"
		}
		var cves []string
		for _, c := range f.CVEs {
			cves = append(cves, c.ID+"="+c.Status)
		}
		out = append(out, fmt.Sprintf("%s.%s %s→%s %s [%s] vulnerable=%v", f.Package, f.Arch, f.Installed, f.Fixed, adv, strings.Join(cves, ","), f.Vulnerable))
	}
	return out
}

func check(t *testing.T, got []Finding, want ...string) {
	t.Helper()
	if g := ids(got); !reflect.DeepEqual(g, want) {
		t.Errorf("findings:\n  got  %s\n  want %s", strings.Join(g, "\n       "), strings.Join(want, "\n       "))
	}
}

func TestMatchAdvisory(t *testing.T) {
	d := Data{Advisories: []advisory.Advisory{
		sec("ENMEI-SA-2026:0001", "Important", []string{"CVE-2026-1000"},
			rpmPkg(t, "openssl-libs-1:3.0.7-28.el9.x86_64"), rpmPkg(t, "openssl-libs-1:3.0.7-28.el9.aarch64"),
			rpmPkg(t, "openssl-1:3.0.7-28.el9.src")),
	}}
	cases := []struct {
		name string
		in   Installed
		want []string
	}{
		{"older release", rpmInstalled("openssl-libs", "1", "3.0.7", "27.el9", "x86_64"),
			[]string{"openssl-libs.x86_64 1:3.0.7-27.el9→1:3.0.7-28.el9 ENMEI-SA-2026:0001 [CVE-2026-1000=released] vulnerable=true"}},
		{"same version", rpmInstalled("openssl-libs", "1", "3.0.7", "28.el9", "x86_64"), nil},
		{"newer", rpmInstalled("openssl-libs", "1", "3.0.7", "28.el9_4", "x86_64"), nil},
		// The epoch decides before the version: a scanner dropping it
		// would call 3.0.9 fixed, or a patched 1:… host vulnerable.
		{"no epoch, higher version", rpmInstalled("openssl-libs", "", "3.0.9", "1.el9", "x86_64"),
			[]string{"openssl-libs.x86_64 3.0.9-1.el9→1:3.0.7-28.el9 ENMEI-SA-2026:0001 [CVE-2026-1000=released] vulnerable=true"}},
		{"higher epoch", rpmInstalled("openssl-libs", "2", "1.0", "1.el9", "x86_64"), nil},
		{"other arch", rpmInstalled("openssl-libs", "1", "3.0.7", "27.el9", "ppc64le"), nil},
		{"source packages never apply", rpmInstalled("openssl", "1", "3.0.7", "27.el9", "x86_64"), nil},
		{"other format", Installed{Name: "openssl-libs", Version: "3.0.7-1", Arch: "x86_64", Format: "deb"}, nil},
		{"other name", rpmInstalled("openssl-devel", "1", "3.0.7", "27.el9", "x86_64"), nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			check(t, Match([]Installed{c.in}, d, product), c.want...)
		})
	}
}

func TestMatchTildeCaret(t *testing.T) {
	d := Data{Advisories: []advisory.Advisory{
		sec("ENMEI-SA-2026:0002", "Moderate", []string{"CVE-2026-2000"}, rpmPkg(t, "tool-1.0-1.el9.x86_64")),
		sec("ENMEI-SA-2026:0003", "Moderate", []string{"CVE-2026-2001"}, rpmPkg(t, "snap-1.0^git2-1.el9.x86_64")),
	}}
	check(t, Match([]Installed{rpmInstalled("tool", "", "1.0~rc1", "1.el9", "x86_64")}, d, product),
		"tool.x86_64 1.0~rc1-1.el9→1.0-1.el9 ENMEI-SA-2026:0002 [CVE-2026-2000=released] vulnerable=true")
	check(t, Match([]Installed{rpmInstalled("snap", "", "1.0", "1.el9", "x86_64")}, d, product),
		"snap.x86_64 1.0-1.el9→1.0^git2-1.el9 ENMEI-SA-2026:0003 [CVE-2026-2001=released] vulnerable=true")
	check(t, Match([]Installed{rpmInstalled("snap", "", "1.0^git10", "1.el9", "x86_64")}, d, product))
	check(t, Match([]Installed{rpmInstalled("snap", "", "1.0.1", "1.el9", "x86_64")}, d, product))
}

func TestMatchArchitectureIndependent(t *testing.T) {
	d := Data{Advisories: []advisory.Advisory{
		sec("ENMEI-SA-2026:0004", "Low", []string{"CVE-2026-3000"}, rpmPkg(t, "python3-foo-2.0-1.el9.noarch")),
		sec("ENMEI-SA-2026:0005", "Low", []string{"CVE-2026-3001"}, debPkg(t, "tzdata_2025b-0+deb12u1_all"), debPkg(t, "libc6_2.36-9+deb12u10_amd64")),
	}}
	in := []Installed{
		rpmInstalled("python3-foo", "", "1.0", "1.el9", "x86_64"),
		{Name: "tzdata", Version: "2024a-0+deb12u1", Arch: "amd64", Format: "deb"},
		{Name: "libc6", Version: "2.36-9+deb12u4", Arch: "amd64", Format: "deb"},
		{Name: "libc6", Version: "2.36-9+deb12u4", Arch: "i386", Format: "deb"},
	}
	check(t, Match(in, d, ""),
		"libc6.amd64 2.36-9+deb12u4→2.36-9+deb12u10 ENMEI-SA-2026:0005 [CVE-2026-3001=released] vulnerable=true",
		"python3-foo.x86_64 1.0-1.el9→2.0-1.el9 ENMEI-SA-2026:0004 [CVE-2026-3000=released] vulnerable=true",
		"tzdata.amd64 2024a-0+deb12u1→2025b-0+deb12u1 ENMEI-SA-2026:0005 [CVE-2026-3001=released] vulnerable=true")
}

func TestMatchSeveralAdvisories(t *testing.T) {
	d := Data{Advisories: []advisory.Advisory{
		sec("ENMEI-SA-2026:1000", "Critical", []string{"CVE-2026-5002"}, rpmPkg(t, "curl-7.76.1-30.el9.x86_64")),
		sec("ENMEI-SA-2026:999", "Important", []string{"CVE-2026-5001"}, rpmPkg(t, "curl-7.76.1-29.el9.x86_64")),
		{ID: "ENMEI-BA-2026:0001", Type: advisory.TypeBugfix, Packages: []advisory.Package{rpmPkg(t, "curl-7.76.1-31.el9.x86_64")}},
	}}
	check(t, Match([]Installed{rpmInstalled("curl", "", "7.76.1", "28.el9", "x86_64")}, d, product),
		"curl.x86_64 7.76.1-28.el9→7.76.1-29.el9 ENMEI-SA-2026:999 [CVE-2026-5001=released] vulnerable=true",
		"curl.x86_64 7.76.1-28.el9→7.76.1-30.el9 ENMEI-SA-2026:1000 [CVE-2026-5002=released] vulnerable=true")
	check(t, Match([]Installed{rpmInstalled("curl", "", "7.76.1", "29.el9", "x86_64")}, d, product),
		"curl.x86_64 7.76.1-29.el9→7.76.1-30.el9 ENMEI-SA-2026:1000 [CVE-2026-5002=released] vulnerable=true")
}

// Of several installed copies (install-only kernels), the newest counts.
func TestMatchNewestInstalled(t *testing.T) {
	d := Data{Advisories: []advisory.Advisory{
		sec("ENMEI-SA-2026:0006", "Important", []string{"CVE-2026-6000"}, rpmPkg(t, "kernel-core-5.14.0-427.13.1.el9_4.x86_64")),
	}}
	old := rpmInstalled("kernel-core", "", "5.14.0", "362.8.1.el9_3", "x86_64")
	cur := rpmInstalled("kernel-core", "", "5.14.0", "427.13.1.el9_4", "x86_64")
	check(t, Match([]Installed{old, cur}, d, product))
	check(t, Match([]Installed{cur, old}, d, product))
	check(t, Match([]Installed{old}, d, product),
		"kernel-core.x86_64 5.14.0-362.8.1.el9_3→5.14.0-427.13.1.el9_4 ENMEI-SA-2026:0006 [CVE-2026-6000=released] vulnerable=true")
}

func TestMatchRecords(t *testing.T) {
	rec := func(cve string, st advisory.Status, pkgs ...string) advisory.Record {
		return advisory.Record{CVE: cve, Product: product, Status: st, Packages: pkgs, Score: 7.5, Statement: "st " + cve}
	}
	d := Data{
		Advisories: []advisory.Advisory{
			sec("ENMEI-SA-2026:0010", "Important", []string{"CVE-2026-0001", "CVE-2026-0002"}, rpmPkg(t, "openssl-libs-1:3.0.7-28.el9.x86_64")),
		},
		Records: []advisory.Record{
			// The advisory's CVEs: their statuses show in its finding and
			// they make no finding of their own.
			rec("CVE-2026-0001", advisory.Released, "openssl"),
			rec("CVE-2026-0002", advisory.InRollout, "openssl"),
			// Open records, by source name and by binary name.
			rec("CVE-2026-0100", advisory.InTesting, "openssl"),
			rec("CVE-2026-0101", advisory.Ignored, "openssl-libs"),
			rec("CVE-2026-0102", advisory.InProgress, "openssl", "openssl-libs"),
			rec("CVE-2026-0103", advisory.NeedsTriage, "openssl"),
			rec("CVE-2026-0104", advisory.InResearch, "openssl-libs"),
			// Closed records are never findings.
			rec("CVE-2026-0200", advisory.AlreadyFixed, "openssl"),
			rec("CVE-2026-0201", advisory.NotVulnerable, "openssl"),
			rec("CVE-2026-0202", advisory.Released, "bash"),
			// Other products' records and packages not installed.
			{CVE: "CVE-2026-0300", Product: "almalinux-8", Status: advisory.InProgress, Packages: []string{"openssl"}},
			rec("CVE-2026-0301", advisory.InProgress, "nginx"),
		},
	}
	in := []Installed{
		{Name: "openssl-libs", Epoch: "1", Version: "3.0.7", Release: "27.el9", Arch: "x86_64", Format: "rpm", Source: "openssl"},
		{Name: "bash", Version: "5.1.8", Release: "6.el9", Arch: "x86_64", Format: "rpm", Source: "bash"},
	}
	got := Match(in, d, product)
	check(t, got,
		"openssl-libs.x86_64 1:3.0.7-27.el9→1:3.0.7-28.el9 ENMEI-SA-2026:0010 [CVE-2026-0001=released,CVE-2026-0002=in-rollout] vulnerable=true",
		"openssl-libs.x86_64 1:3.0.7-27.el9→ - [CVE-2026-0100=in-testing,CVE-2026-0101=ignored,CVE-2026-0102=in-progress] vulnerable=true",
		"openssl-libs.x86_64 1:3.0.7-27.el9→ - [CVE-2026-0103=needs-triage,CVE-2026-0104=in-research] vulnerable=false")
	if c := got[0].CVEs[1]; c.Score != 7.5 || c.Statement != "st CVE-2026-0002" {
		t.Errorf("CVE status %+v: want the record's score and statement", c)
	}
	if got[1].Severity != "" || got[1].Fixed != "" {
		t.Errorf("a finding without an advisory has severity %q, fixed %q", got[1].Severity, got[1].Fixed)
	}

	// Once the host has the advisory's build, its CVEs are fixed there,
	// whatever status the tracker still shows.
	in[0].Release = "28.el9"
	check(t, Match(in, d, product),
		"openssl-libs.x86_64 1:3.0.7-28.el9→ - [CVE-2026-0100=in-testing,CVE-2026-0101=ignored,CVE-2026-0102=in-progress] vulnerable=true",
		"openssl-libs.x86_64 1:3.0.7-28.el9→ - [CVE-2026-0103=needs-triage,CVE-2026-0104=in-research] vulnerable=false")

	// A package the advisory does not ship stays affected by the record.
	in = append(in, Installed{Name: "openssl", Epoch: "1", Version: "3.0.7", Release: "27.el9", Arch: "x86_64", Format: "rpm", Source: "openssl"})
	got = Match(in, d, product)
	if len(got) != 4 || got[0].Package != "openssl" || got[0].CVEs[0].ID != "CVE-2026-0002" {
		t.Errorf("openssl binary: got\n%s", strings.Join(ids(got), "\n"))
	}
}

// A CVE without a record shows released, scored from the advisory's vector.
func TestMatchCVEWithoutRecord(t *testing.T) {
	d := Data{Advisories: []advisory.Advisory{
		sec("ENMEI-SA-2026:0011", "Critical", []string{"CVE-2026-7000"}, rpmPkg(t, "bash-5.1.8-9.el9.x86_64")),
	}}
	got := Match([]Installed{rpmInstalled("bash", "", "5.1.8", "6.el9", "x86_64")}, d, product)
	if len(got) != 1 || !reflect.DeepEqual(got[0].CVEs, []CVEStatus{{ID: "CVE-2026-7000", Status: "released", Score: 9.8}}) || got[0].Severity != "Critical" {
		t.Fatalf("got %+v", got)
	}
}

func TestFromInventory(t *testing.T) {
	cases := []struct {
		in   inventory.Package
		want Installed
		evr  string
	}{
		{inventory.Package{Format: "rpm", Name: "openssl-libs", Epoch: "1", Version: "3.0.7-28.el9", Arch: "x86_64", Source: "openssl"},
			Installed{Name: "openssl-libs", Epoch: "1", Version: "3.0.7", Release: "28.el9", Arch: "x86_64", Format: "rpm", Source: "openssl"}, "1:3.0.7-28.el9"},
		{inventory.Package{Format: "rpm", Name: "bash", Epoch: "0", Version: "5.1.8-6.el9", Arch: "x86_64"},
			Installed{Name: "bash", Epoch: "0", Version: "5.1.8", Release: "6.el9", Arch: "x86_64", Format: "rpm"}, "5.1.8-6.el9"},
		{inventory.Package{Format: "deb", Name: "libc6", Version: "2.36-9+deb12u4", Arch: "amd64", Source: "glibc"},
			Installed{Name: "libc6", Version: "2.36-9+deb12u4", Arch: "amd64", Format: "deb", Source: "glibc"}, "2.36-9+deb12u4"},
		{inventory.Package{Format: "deb", Name: "tar", Epoch: "1", Version: "1.34+dfsg-1.2", Arch: "amd64"},
			Installed{Name: "tar", Epoch: "1", Version: "1.34+dfsg-1.2", Arch: "amd64", Format: "deb"}, "1:1.34+dfsg-1.2"},
	}
	for _, c := range cases {
		got := FromInventory(c.in)
		if got != c.want {
			t.Errorf("FromInventory(%+v) = %+v, want %+v", c.in, got, c.want)
		}
		if got.EVR() != c.evr {
			t.Errorf("%s: EVR %q, want %q", c.in.Name, got.EVR(), c.evr)
		}
	}
}

// BenchmarkMatch is a large host against a large vendor: 1,500 installed
// packages, 50,000 advisories of four binary packages each (two names, two
// architectures; names from a pool of 6,000, of which the host has a
// quarter) and 20,000 CVE records of the product. On a patched host 1% of
// the advisories' builds are newer than what is installed; on a stale one
// half are, which makes some 20,000 findings (the worst case: building and
// sorting them costs more than the matching).
func BenchmarkMatch(b *testing.B) {
	for _, c := range []struct {
		name  string
		newer float64
	}{{"patched", 0.01}, {"stale", 0.5}} {
		b.Run(c.name, func(b *testing.B) {
			in, d := synthetic(1500, 50000, 20000, c.newer)
			b.ReportAllocs()
			var n int
			for b.Loop() {
				n = len(Match(in, d, product))
			}
			b.ReportMetric(float64(n), "findings")
		})
	}
}

// synthetic makes a host and the vendor's data; newer is the share of the
// advisories' builds newer than the installed package of the same name.
func synthetic(nInstalled, nAdvisories, nRecords int, newer float64) ([]Installed, Data) {
	r := rand.New(rand.NewPCG(1, 2))
	const pool = 6000
	names := make([]string, pool)
	for i := range names {
		names[i] = fmt.Sprintf("pkg%04d-libs", i)
	}
	version := func(major int) string {
		return fmt.Sprintf("%d.%d.%d", major, r.IntN(20), r.IntN(30))
	}
	in := make([]Installed, nInstalled)
	for i := range in {
		name := names[i*pool/nInstalled]
		in[i] = Installed{Name: name, Epoch: "1", Version: version(5), Release: fmt.Sprintf("%d.el9", r.IntN(40)),
			Arch: "x86_64", Format: "rpm", Source: name + "-src"}
	}
	var d Data
	d.Advisories = make([]advisory.Advisory, nAdvisories)
	for i := range d.Advisories {
		a := advisory.Advisory{ID: fmt.Sprintf("ENMEI-SA-2026:%05d", i), Type: advisory.TypeSecurity, Severity: "Important",
			CVEs: []advisory.CVERef{{ID: fmt.Sprintf("CVE-2026-%05d", i), CVSS: "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"}}}
		for k := 0; k < 2; k++ {
			name := names[r.IntN(pool)]
			major := 4
			if r.Float64() < newer {
				major = 6
			}
			v, rel := version(major), fmt.Sprintf("%d.el9", r.IntN(40))
			for _, arch := range []string{"x86_64", "aarch64"} {
				a.Packages = append(a.Packages, advisory.Package{Repo: "alma9-" + arch, Name: name, Epoch: "1", Version: v, Release: rel, Arch: arch, Format: "rpm"})
			}
		}
		d.Advisories[i] = a
	}
	statuses := advisory.Statuses
	d.Records = make([]advisory.Record, nRecords)
	for i := range d.Records {
		d.Records[i] = advisory.Record{CVE: fmt.Sprintf("CVE-2025-%05d", i), Product: product, Status: statuses[r.IntN(len(statuses))],
			Packages: []string{names[r.IntN(pool)] + "-src"}, Score: 5}
	}
	return in, d
}

// The benchmark's data must exercise every path, or its time says little.
func TestSyntheticMatches(t *testing.T) {
	in, d := synthetic(1500, 50000, 20000, 0.5)
	start := time.Now()
	fs := Match(in, d, product)
	took := time.Since(start)
	var adv, open, investigating int
	for _, f := range fs {
		switch {
		case f.Advisory != "":
			adv++
		case f.Vulnerable:
			open++
		default:
			investigating++
		}
	}
	if adv == 0 || open == 0 || investigating == 0 {
		t.Fatalf("synthetic data gives %d advisory, %d open and %d investigating findings", adv, open, investigating)
	}
	t.Logf("%d findings (%d advisory, %d open, %d under investigation) in %v", len(fs), adv, open, investigating, took)
}
