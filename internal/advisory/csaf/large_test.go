package csaf

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/enmei-project/enmei/internal/advisory"
	"github.com/enmei-project/enmei/internal/sign"
	"github.com/enmei-project/enmei/internal/tracker"
)

// large is a tracker of nAdv released advisories and nCVE CVEs on the two
// fixture products: each advisory fixes two CVEs in three packages, the
// other CVEs are spread over the other statuses, each with some history.
func large(tb testing.TB, nAdv, nCVE int) (*tracker.Snapshot, func(context.Context, string) ([]advisory.Change, error)) {
	advs := map[string]advisory.Advisory{}
	var recs []advisory.Record
	hist := map[string][]advisory.Change{}
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	statuses := []advisory.Status{advisory.NeedsTriage, advisory.InResearch, advisory.InProgress, advisory.InTesting, advisory.InRollout, advisory.Ignored, advisory.NotVulnerable, advisory.AlreadyFixed}
	seq := int64(0)
	for c := 0; c < nCVE; c++ {
		cve := fmt.Sprintf("CVE-2026-%05d", 10000+c)
		at := base.Add(time.Duration(c) * time.Hour)
		for _, prod := range []string{"almalinux-9", "debian-12"} {
			seq++
			r := advisory.Record{CVE: cve, Product: prod, CVSS3: vecHigh, Published: at.Format("2006-01-02"), Packages: []string{fmt.Sprintf("pkg%d", c)}, Updated: at, Seq: seq}
			if a := c / 2; a < nAdv {
				r.Status, r.Fixed = advisory.Released, []string{fmt.Sprintf("ENMEI-SA-2026:%04d", a+1)}
			} else {
				r.Status = statuses[c%len(statuses)]
				if r.Status == advisory.Ignored || r.Status == advisory.NotVulnerable {
					r.Statement = "Statement for " + cve
				}
			}
			recs = append(recs, r)
			hist[cve] = append(hist[cve],
				advisory.Change{CVE: cve, Product: prod, At: at, To: advisory.NeedsTriage, Source: "cve set", Seq: seq},
				advisory.Change{CVE: cve, Product: prod, At: at.Add(time.Minute), From: advisory.NeedsTriage, To: r.Status, Source: "cve set", Seq: seq})
		}
	}
	for a := 0; a < nAdv; a++ {
		id := fmt.Sprintf("ENMEI-SA-2026:%04d", a+1)
		at := base.Add(time.Duration(2*a) * time.Hour).Add(30 * time.Minute)
		advs[id] = advisory.Advisory{
			ID: id, Type: "security", Severity: "Important",
			Title:  advisory.Text{En: fmt.Sprintf("pkg%d security update", 2*a)},
			Issued: at.Format("2006-01-02"),
			CVEs:   []advisory.CVERef{{ID: fmt.Sprintf("CVE-2026-%05d", 10000+2*a), CVSS: vecHigh}, {ID: fmt.Sprintf("CVE-2026-%05d", 10001+2*a), CVSS: vecMedium}},
			Packages: append(pkgs(tb, "alma9-baseos-x86_64", fmt.Sprintf("pkg%d-1:1.%d-1.el9.x86_64", 2*a, a), fmt.Sprintf("pkg%d-libs-1:1.%d-1.el9.x86_64", 2*a, a)),
				pkgs(tb, "deb12-main", fmt.Sprintf("pkg%d_1.%d-1+els1_amd64", 2*a, a))...),
			Released: at,
		}
	}
	return snapshot(advs, recs), historyOf(hist)
}

// TestLarge builds 1,000 advisories and 2,000 CVEs with a fake signer,
// then again from the result: the second build signs and stores nothing.
func TestLarge(t *testing.T) {
	sn, hist := large(t, 1000, 2000)
	b, s := newBlobs(), &fakeSigner{}
	start := time.Now()
	m, err := Build(context.Background(), nil, sn, hist, s, testOptions(), b.put)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("first build without real signing: %v", time.Since(start))
	if m.Stats.Documents != 3000 || s.calls.Load() != 3000 {
		t.Errorf("%d documents, %d signed; want 3000", m.Stats.Documents, s.calls.Load())
	}
	s.calls.Store(0)
	b.puts.Store(0)
	start = time.Now()
	m2, err := Build(context.Background(), m, sn, hist, s, testOptions(), b.put)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("unchanged build: %v", time.Since(start))
	if s.calls.Load() != 0 || b.puts.Load() != 0 || len(changed(m, m2)) != 0 {
		t.Errorf("unchanged build signed %d, stored %d", s.calls.Load(), b.puts.Load())
	}
}

// BenchmarkBuild is a first Build of 1,000 advisories and 2,000 CVEs
// signed with a real RSA-3072 key: run with
// go test ./internal/advisory/csaf/ -run '^$' -bench Build -benchtime 1x
func BenchmarkBuild(b *testing.B) {
	sn, hist := large(b, 1000, 2000)
	key, err := sign.Generate("Example ELS", "security@example.com", time.Now().Add(-time.Hour))
	if err != nil {
		b.Fatal(err)
	}
	opts := testOptions()
	opts.Fingerprint = key.Fingerprint()
	b.ResetTimer()
	for range b.N {
		bl := newBlobs()
		if _, err := Build(context.Background(), nil, sn, hist, key, opts, bl.put); err != nil {
			b.Fatal(err)
		}
	}
}
