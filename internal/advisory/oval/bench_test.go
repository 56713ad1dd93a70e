package oval

import (
	"bytes"
	"fmt"
	"testing"
	"time"

	"github.com/enmei-project/enmei/internal/advisory"
	"github.com/enmei-project/enmei/internal/store"
	"github.com/enmei-project/enmei/internal/tracker"
)

// synthetic is a catalogue of n0 released advisories for the rpm product
// p0 and nOther more for p1 (rpm) and p2 (deb), each with two to five
// packages (x86_64 and aarch64 builds, a noarch one now and then) drawn
// from a pool of names, so that objects are shared as in a real
// distribution, and one to three CVEs.
func synthetic(n0, nOther int) *tracker.Snapshot {
	products := []store.Product{
		{ID: "p0", Name: "Product 0", Format: "rpm"},
		{ID: "p1", Name: "Product 1", Format: "rpm"},
		{ID: "p2", Name: "Product 2", Format: "deb"},
	}
	repos := []store.Repo{
		{ID: "p0-x86_64", ProductID: "p0", Format: "rpm", Arch: "x86_64"},
		{ID: "p0-aarch64", ProductID: "p0", Format: "rpm", Arch: "aarch64"},
		{ID: "p1-x86_64", ProductID: "p1", Format: "rpm", Arch: "x86_64"},
		{ID: "p2-main", ProductID: "p2", Format: "deb"},
	}
	advs := make(map[string]advisory.Advisory, n0+nOther)
	released := time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := 0; i < n0+nOther; i++ {
		year, num := 2016+i/20000, i%20000+1
		a := advisory.Advisory{
			ID: fmt.Sprintf("ENMEI-SA-%d:%04d", year, num), Type: "security", Severity: []string{"Critical", "Important", "Moderate", "Low"}[i%4],
			Title:       advisory.Text{En: fmt.Sprintf("pkg%d security update", i%3000)},
			Description: advisory.Text{En: "A flaw was found that allows a remote attacker to cause a denial of service & more."},
			Issued:      fmt.Sprintf("%d-%02d-%02d", year, i%12+1, i%28+1),
			Released:    released.Add(time.Duration(i) * time.Minute),
		}
		a.Updated = a.Issued
		for c := 0; c <= i%3; c++ {
			a.CVEs = append(a.CVEs, advisory.CVERef{ID: fmt.Sprintf("CVE-%d-%d", year, 10000+i*3+c), CVSS: "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:N/A:N", Published: a.Issued})
		}
		for p := 0; p < 2+i%4; p++ {
			name := fmt.Sprintf("pkg%d-sub%d", (i*7+p*131)%3000, p)
			switch {
			case i < n0:
				if p == 3 {
					a.Packages = append(a.Packages,
						advisory.Package{Repo: "p0-x86_64", Name: name, Version: "1.0", Release: fmt.Sprintf("%d.el9", i), Arch: "noarch", Format: "rpm"},
						advisory.Package{Repo: "p0-aarch64", Name: name, Version: "1.0", Release: fmt.Sprintf("%d.el9", i), Arch: "noarch", Format: "rpm"})
					continue
				}
				a.Packages = append(a.Packages,
					advisory.Package{Repo: "p0-x86_64", Name: name, Epoch: fmt.Sprint(p % 2), Version: "1.0", Release: fmt.Sprintf("%d.el9", i), Arch: "x86_64", Format: "rpm"},
					advisory.Package{Repo: "p0-aarch64", Name: name, Epoch: fmt.Sprint(p % 2), Version: "1.0", Release: fmt.Sprintf("%d.el9", i), Arch: "aarch64", Format: "rpm"})
			case i%2 == 0:
				a.Packages = append(a.Packages, advisory.Package{Repo: "p1-x86_64", Name: name, Version: "2.0", Release: fmt.Sprintf("%d.el8", i), Arch: "x86_64", Format: "rpm"})
			default:
				a.Packages = append(a.Packages, advisory.Package{Repo: "p2-main", Name: name, Version: fmt.Sprintf("3.0-%d+deb12u1", i), Arch: "amd64", Format: "deb"})
			}
		}
		advs[a.ID] = a
	}
	return tracker.NewSnapshot(1, tracker.Config{}, products, repos, advs, nil)
}

// BenchmarkDefinitions renders a product with 20,000 advisories out of
// a catalogue of 50,000.
func BenchmarkDefinitions(b *testing.B) {
	sn := synthetic(20000, 30000)
	var size int
	b.ResetTimer()
	for b.Loop() {
		out, err := Definitions(sn, "p0", testOptions)
		if err != nil {
			b.Fatal(err)
		}
		size = len(out)
	}
	b.ReportMetric(float64(size)/1e6, "MB/file")
}

// TestLargeProduct checks the benchmark's catalogue renders with every
// advisory of the product present exactly once and nothing of the other
// products. (Its speed is the benchmark's to measure: a time limit here
// would fail under the race detector or on a busy machine.)
func TestLargeProduct(t *testing.T) {
	out, err := Definitions(synthetic(20000, 30000), "p0", testOptions)
	if err != nil {
		t.Fatal(err)
	}
	if n := bytes.Count(out, []byte("<definition ")); n != 20000 {
		t.Errorf("%d definitions, want 20000", n)
	}
	if bytes.Contains(out, []byte("el8")) || bytes.Contains(out, []byte("deb12u1")) {
		t.Errorf("packages of other products in p0's file")
	}
}
