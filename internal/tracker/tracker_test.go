package tracker

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/enmei-project/enmei/internal/advisory"
	"github.com/enmei-project/enmei/internal/bizcal"
	"github.com/enmei-project/enmei/internal/errs"
	"github.com/enmei-project/enmei/internal/store"
	"github.com/enmei-project/enmei/internal/store/sqlite"
)

var ctx = context.Background()

func newService(t testing.TB) (*Service, *[]string) {
	t.Helper()
	db, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "enmei.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	for _, p := range []store.Product{{ID: "alma9", Name: "AlmaLinux 9", Format: "rpm", OSID: "almalinux", OSVersion: "9"}, {ID: "deb12", Name: "Debian 12", Format: "deb", OSID: "debian", OSVersion: "12"}} {
		must(t, db.AddProduct(ctx, p))
	}
	must(t, db.AddRepo(ctx, store.Repo{ID: "alma9-x86_64", ProductID: "alma9", Format: "rpm", Arch: "x86_64"}))
	must(t, db.AddRepo(ctx, store.Repo{ID: "deb12-main", ProductID: "deb12", Format: "deb", Suite: "bookworm", Component: "main"}))
	var republished []string
	now := time.Date(2026, 5, 20, 3, 0, 0, 0, time.UTC)
	s := &Service{Store: db, Now: func() time.Time { return now }, Republish: func(ctx context.Context, repo string) error {
		republished = append(republished, repo)
		return nil
	}}
	return s, &republished
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func adv(issued string, cves ...string) advisory.Advisory {
	a := advisory.Advisory{Type: "security", Severity: "important", Issued: issued, Title: advisory.Text{En: "openssl fix"},
		Packages: []advisory.Package{{Repo: "alma9-x86_64", NEVRA: "openssl-1:3.0.7-28.el9.x86_64"}, {Repo: "deb12-main", NEVRA: "openssl_3.0.15-1~deb12u1_amd64"}}}
	for _, c := range cves {
		a.CVEs = append(a.CVEs, advisory.CVERef{ID: c, CVSS: "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"})
	}
	return a
}

func TestAddNumbersAndRelease(t *testing.T) {
	s, republished := newService(t)
	advs, err := s.Add(ctx, []advisory.Advisory{adv("2026-04-28", "CVE-2026-1000"), adv("2025-12-01", "CVE-2025-9999"), adv("2026-05-01", "CVE-2026-1001")})
	must(t, err)
	got := []string{advs[0].ID, advs[1].ID, advs[2].ID}
	if strings.Join(got, " ") != "ENMEI-SA-2026:0001 ENMEI-SA-2025:0001 ENMEI-SA-2026:0002" {
		t.Errorf("IDs = %v", got)
	}
	if len(*republished) != 0 {
		t.Errorf("adding drafts republished %v", *republished)
	}
	// A configured prefix applies to the next ones.
	cfg, _ := s.Config(ctx)
	cfg.Prefix = "ACME-SA"
	must(t, s.SetConfig(ctx, cfg))
	more, err := s.Add(ctx, []advisory.Advisory{adv("2026-05-02", "CVE-2026-1002")})
	must(t, err)
	if more[0].ID != "ACME-SA-2026:0001" {
		t.Errorf("with prefix ACME-SA: %s", more[0].ID)
	}
	// One bad advisory stores nothing.
	bad := adv("2026-05-03", "CVE-2026-1003")
	bad.Packages[0].Repo = "nope"
	if _, err := s.Add(ctx, []advisory.Advisory{adv("2026-05-03", "CVE-2026-1004"), bad}); !errs.Is(err, errs.Invalid) {
		t.Errorf("Add with an unknown repository = %v, want Invalid", err)
	}
	sn, err := s.Snapshot(ctx)
	must(t, err)
	if len(sn.Advisories()) != 4 || len(sn.CVE("CVE-2026-1004")) != 0 {
		t.Errorf("a refused batch left %d advisories and %d records", len(sn.Advisories()), len(sn.CVE("CVE-2026-1004")))
	}
	// Seeded records: one per product, in-testing, found by package.
	rows, total := sn.Rows(Filter{Q: "openssl"}, s.Today(), true, 0, 0)
	if total != 8 || rows[0].Status != "in-testing" {
		t.Errorf("rows by package = %d (%+v), want 8 in-testing", total, rows)
	}

	repos, err := s.Release(ctx, []string{advs[0].ID})
	must(t, err)
	if strings.Join(repos, ",") != "alma9-x86_64" || strings.Join(*republished, ",") != "alma9-x86_64" {
		t.Errorf("release republished %v (returned %v), want the rpm repository only", *republished, repos)
	}
	sn, err = s.Snapshot(ctx)
	must(t, err)
	for _, r := range sn.CVE("CVE-2026-1000") {
		if r.Status != advisory.Released || len(r.Fixed) != 1 {
			t.Errorf("after release %s %s = %s fixed by %v", r.CVE, r.Product, r.Status, r.Fixed)
		}
	}
	if len(sn.Released) != 1 {
		t.Errorf("released = %d, want 1", len(sn.Released))
	}
	doc, err := s.Updateinfo(ctx, store.Repo{ID: "alma9-x86_64", ProductID: "alma9"})
	must(t, err)
	if !strings.Contains(string(doc), advs[0].ID) || strings.Contains(string(doc), advs[2].ID) || !strings.Contains(string(doc), `epoch="1"`) {
		t.Errorf("updateinfo:\n%s", doc)
	}
	// Updating a released advisory republishes its repository.
	*republished = nil
	again := advs[0]
	again.Updated = "2026-05-10"
	if _, err := s.Add(ctx, []advisory.Advisory{again}); err != nil {
		t.Fatal(err)
	}
	if strings.Join(*republished, ",") != "alma9-x86_64" {
		t.Errorf("updating a released advisory republished %v", *republished)
	}
	if _, err := s.Release(ctx, []string{"ENMEI-SA-2026:0404"}); !errs.Is(err, errs.NotFound) {
		t.Errorf("releasing an unknown advisory = %v, want NotFound", err)
	}
}

func TestSetAndRows(t *testing.T) {
	s, _ := newService(t)
	str := func(v string) *string { return &v }
	_, err := s.Set(ctx, SetCVE{CVE: "CVE-2026-2000", Product: "alma9", Status: "ignored"})
	if !errs.Is(err, errs.Invalid) || !strings.Contains(err.Error(), "statement") {
		t.Errorf("ignored without a statement = %v", err)
	}
	if _, err := s.Set(ctx, SetCVE{CVE: "CVE-2026-2000", Product: "nope", Status: "in-research"}); !errs.Is(err, errs.NotFound) {
		t.Errorf("unknown product = %v", err)
	}
	if _, err := s.Set(ctx, SetCVE{CVE: "CVE-2026-2000", Product: "alma9", Status: "fixed"}); !errs.Is(err, errs.Invalid) {
		t.Errorf("unknown status = %v", err)
	}
	if _, err := s.Set(ctx, SetCVE{CVE: "CVE-2026-2000", Product: "alma9", Status: "in-research", CVSS: str("CVSS:3.1/AV:N")}); !errs.Is(err, errs.Invalid) {
		t.Errorf("bad vector = %v", err)
	}
	r, err := s.Set(ctx, SetCVE{CVE: "cve-2026-2000", Product: "alma9", Status: "in-progress", CVSS: str("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"),
		Published: str("2026-04-01"), Packages: []string{"bash"}})
	must(t, err)
	if r.Score != 9.8 || r.CVE != "CVE-2026-2000" {
		t.Errorf("record = %+v", r)
	}
	_, err = s.Set(ctx, SetCVE{CVE: "CVE-2026-2001", Product: "deb12", Status: "in-progress", CVSS: str("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"),
		Published: str("2026-04-01"), Override: "skip", OverrideReason: "mitigated by default configuration"})
	must(t, err)
	_, err = s.Set(ctx, SetCVE{CVE: "CVE-2026-2002", Product: "deb12", Status: "not-vulnerable", Statement: str("Not built on Debian."), CVSS: str("CVSS:3.1/AV:L/AC:L/PR:L/UI:N/S:U/C:H/I:N/A:N")})
	must(t, err)

	sn, err := s.Snapshot(ctx)
	must(t, err)
	today := s.Today()
	rows, _ := sn.Rows(Filter{Overdue: true}, today, false, 0, 0)
	if len(rows) != 1 || rows[0].CVE != "CVE-2026-2000" || *rows[0].Due != "2026-04-21" || *rows[0].BusinessDaysLeft != -17 {
		t.Errorf("overdue = %+v; want CVE-2026-2000 due 2026-04-21, 17 business days late", rows)
	}
	vendor, _ := sn.Rows(Filter{Q: "CVE-2026-2001"}, today, false, 0, 0)
	public, _ := sn.Rows(Filter{Q: "CVE-2026-2001"}, today, true, 0, 0)
	if len(vendor) != 1 || vendor[0].Override == "" || vendor[0].Targeted || public[0].Override != "" {
		t.Errorf("override: vendor %+v, public %+v; want it shown to the vendor only", vendor, public)
	}
	for _, tt := range []struct {
		f    Filter
		want int
	}{
		{Filter{Product: "deb12"}, 2},
		{Filter{Status: "not-vulnerable"}, 1},
		{Filter{Severity: "critical"}, 2},
		{Filter{Severity: "medium"}, 1},
		{Filter{MinScore: ptr(9.0)}, 2},
		{Filter{MaxScore: ptr(6.0)}, 1},
		{Filter{Since: "2026-04-02"}, 0},
		{Filter{Q: "BASH"}, 1},
	} {
		if _, n := sn.Rows(tt.f, today, true, 0, 0); n != tt.want {
			t.Errorf("Rows(%+v) = %d, want %d", tt.f, n, tt.want)
		}
	}
	// Hiding due dates keeps them from public rows only.
	cfg, _ := s.Config(ctx)
	cfg.HideDue = true
	must(t, s.SetConfig(ctx, cfg))
	sn, err = s.Snapshot(ctx)
	must(t, err)
	public, _ = sn.Rows(Filter{Q: "CVE-2026-2000"}, today, true, 0, 0)
	vendor, _ = sn.Rows(Filter{Q: "CVE-2026-2000"}, today, false, 0, 0)
	if public[0].Due != nil || public[0].Overdue || vendor[0].Due == nil {
		t.Errorf("hidden due dates: public %+v, vendor %+v", public[0], vendor[0])
	}
	// A vendor holiday moves the due date.
	cfg.VendorHolidays = []string{"2026-04-10"}
	must(t, s.SetConfig(ctx, cfg))
	sn, _ = s.Snapshot(ctx)
	vendor, _ = sn.Rows(Filter{Q: "CVE-2026-2000"}, today, false, 0, 0)
	if *vendor[0].Due != "2026-04-22" {
		t.Errorf("with a vendor holiday the due date = %s, want 2026-04-22", *vendor[0].Due)
	}
	if err := s.SetConfig(ctx, Config{Prefix: "bad prefix!", OSVPrefix: "x_A"}); !errs.Is(err, errs.Invalid) {
		t.Errorf("bad prefix = %v", err)
	}
}

func ptr(f float64) *float64 { return &f }

// TestSnapshotIncremental: a cached snapshot takes only what changed, and a
// change made through another service (another replica) shows at once.
func TestSnapshotIncremental(t *testing.T) {
	s, _ := newService(t)
	other := &Service{Store: s.Store, Now: s.Now}
	_, err := s.Set(ctx, SetCVE{CVE: "CVE-2026-1111", Product: "alma9", Status: "needs-triage"})
	must(t, err)
	a, err := s.Snapshot(ctx)
	must(t, err)
	if b, _ := s.Snapshot(ctx); b != a {
		t.Error("an unchanged tracker built a new snapshot")
	}
	_, err = other.Set(ctx, SetCVE{CVE: "CVE-2026-1111", Product: "alma9", Status: "in-research"})
	must(t, err)
	_, err = other.Set(ctx, SetCVE{CVE: "CVE-2026-2222", Product: "alma9", Status: "needs-triage"})
	must(t, err)
	b, err := s.Snapshot(ctx)
	must(t, err)
	if len(b.Records) != 2 || b.CVE("CVE-2026-1111")[0].Status != advisory.InResearch {
		t.Errorf("after a change elsewhere: %d records, %+v", len(b.Records), b.CVE("CVE-2026-1111"))
	}
}

// bigSnapshot is a tracker of n CVE records over two products.
func bigSnapshot(n int) *Snapshot {
	recs := make([]advisory.Record, n)
	statuses := advisory.Statuses
	for i := range recs {
		recs[i] = advisory.Record{CVE: fmt.Sprintf("CVE-%d-%d", 2016+i%10, 10000+i), Product: []string{"alma9", "deb12"}[i%2],
			Status: statuses[i%len(statuses)], Score: float64(i%101) / 10, Published: bizcal.D(2016+i%10, time.Month(1+i%12), 1+i%28).String(),
			Packages: []string{fmt.Sprintf("pkg%d", i%3000)}}
	}
	return NewSnapshot(1, Config{Prefix: DefaultPrefix, OSVPrefix: DefaultOSVPrefix}, nil, nil, nil, recs)
}

// BenchmarkRowsFiltered is the tracker list with 100,000 records and a
// filter (the target: under 100 ms at the server).
func BenchmarkRowsFiltered(b *testing.B) {
	sn := bigSnapshot(100000)
	today := bizcal.D(2026, 5, 20)
	b.ResetTimer()
	for b.Loop() {
		rows, total := sn.Rows(Filter{Product: "alma9", Status: "in-progress", MinScore: ptr(7)}, today, true, 0, 0)
		if total == 0 || len(rows) != total {
			b.Fatal("no rows")
		}
	}
}

// BenchmarkRowsSearch is a text search over 100,000 records, one page.
func BenchmarkRowsSearch(b *testing.B) {
	sn := bigSnapshot(100000)
	today := bizcal.D(2026, 5, 20)
	b.ResetTimer()
	for b.Loop() {
		if _, total := sn.Rows(Filter{Q: "pkg123"}, today, true, 0, 100); total == 0 {
			b.Fatal("no rows")
		}
	}
}

// BenchmarkBuildSnapshot is the cost of building a 100,000-record snapshot
// (once per change).
func BenchmarkBuildSnapshot(b *testing.B) {
	for b.Loop() {
		bigSnapshot(100000)
	}
}
