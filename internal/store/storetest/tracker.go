package storetest

import (
	"fmt"
	"reflect"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/enmei-project/enmei/internal/advisory"
	"github.com/enmei-project/enmei/internal/errs"
	"github.com/enmei-project/enmei/internal/store"
)

func trackerCatalog(t *testing.T, s store.Store) {
	t.Helper()
	must(t, s.AddProduct(ctx, store.Product{ID: "alma9", Name: "AlmaLinux 9", Format: "rpm"}))
	must(t, s.AddProduct(ctx, store.Product{ID: "deb12", Name: "Debian 12", Format: "deb"}))
	must(t, s.AddRepo(ctx, store.Repo{ID: "alma9-x86_64", ProductID: "alma9", Format: "rpm", Arch: "x86_64"}))
	must(t, s.AddRepo(ctx, store.Repo{ID: "alma9-noarch", ProductID: "alma9", Format: "rpm", Arch: "noarch"}))
	must(t, s.AddRepo(ctx, store.Repo{ID: "deb12-main", ProductID: "deb12", Format: "deb", Suite: "bookworm", Component: "main"}))
}

func sampleAdvisory(id string, cves ...string) advisory.Advisory {
	a := advisory.Advisory{ID: id, Type: "security", Severity: "Important", Issued: "2026-04-01", Updated: "2026-04-01",
		Title: advisory.Text{Ja: "重要: openssl", En: "Important: openssl"},
		Packages: []advisory.Package{
			{Repo: "alma9-x86_64", NEVRA: "openssl-1:3.0.7-28.el9.x86_64", Name: "openssl", Epoch: "1", Version: "3.0.7", Release: "28.el9", Arch: "x86_64", Format: "rpm"},
			{Repo: "alma9-noarch", NEVRA: "openssl-doc-3.0.7-28.el9.noarch", Name: "openssl-doc", Version: "3.0.7", Release: "28.el9", Arch: "noarch", Format: "rpm"},
		}}
	for _, c := range cves {
		a.CVEs = append(a.CVEs, advisory.CVERef{ID: c, CVSS: "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", Published: "2026-03-30"})
	}
	return a
}

func testTracker(t *testing.T, s store.Store) {
	trackerCatalog(t, s)
	at := time.Date(2026, 4, 2, 1, 0, 0, 0, time.UTC)
	seq0, err := s.TrackerSeq(ctx)
	must(t, err)
	a := sampleAdvisory("ENMEI-SA-2026:0001", "CVE-2026-1000", "CVE-2026-1001")
	b := sampleAdvisory("ENMEI-SA-2026:0002", "CVE-2026-2000")
	b.Packages = b.Packages[:1]
	seeds := []advisory.Record{
		{CVE: "CVE-2026-1000", Product: "alma9", Status: advisory.InTesting, CVSS3: a.CVEs[0].CVSS, Score: 9.8, Published: "2026-03-30", Packages: []string{"openssl"}, Fixed: []string{a.ID}},
		{CVE: "CVE-2026-1001", Product: "alma9", Status: advisory.InTesting, CVSS3: a.CVEs[1].CVSS, Score: 9.8, Published: "2026-03-30", Fixed: []string{a.ID}},
	}
	// A record the vendor assessed before the advisory keeps its vector.
	must(t, s.SetCVE(ctx, advisory.Record{CVE: "CVE-2026-2000", Product: "alma9", Status: advisory.InResearch, CVSS3: "CVSS:3.1/AV:L/AC:L/PR:L/UI:N/S:U/C:H/I:N/A:N", Score: 5.5, Updated: at}, "cve set"))
	seeds = append(seeds, advisory.Record{CVE: "CVE-2026-2000", Product: "alma9", Status: advisory.InTesting, CVSS3: b.CVEs[0].CVSS, Score: 9.8, Published: "2026-03-30", Fixed: []string{b.ID}})
	if rel, err := s.PutAdvisories(ctx, []advisory.Advisory{a, b}, seeds, at); err != nil || len(rel) != 0 {
		t.Fatalf("PutAdvisories = %v, %v; want no released ones", rel, err)
	}

	got, err := s.Advisory(ctx, a.ID)
	must(t, err)
	got.Seq = 0
	if !reflect.DeepEqual(got, a) {
		t.Errorf("Advisory = %+v\nwant %+v", got, a)
	}
	_, err = s.Advisory(ctx, "ENMEI-SA-2026:9999")
	wantKind(t, "Advisory(unknown)", err, errs.NotFound)
	all, err := s.Advisories(ctx, 0, false)
	must(t, err)
	if len(all) != 2 {
		t.Errorf("Advisories(0, all) = %d, want 2", len(all))
	}
	released, err := s.Advisories(ctx, 0, true)
	must(t, err)
	if len(released) != 0 {
		t.Errorf("Advisories(0, released) before release = %d, want 0", len(released))
	}
	r, err := s.CVERecord(ctx, "CVE-2026-2000", "alma9")
	must(t, err)
	if r.Status != advisory.InResearch || r.Score != 5.5 || r.Published != "2026-03-30" {
		t.Errorf("seeded over an existing record: %+v; want its status and score kept and the missing date filled", r)
	}
	r, err = s.CVERecord(ctx, "CVE-2026-1000", "alma9")
	must(t, err)
	if r.Status != advisory.InTesting || r.Score != 9.8 || r.CVSS3 != a.CVEs[0].CVSS || len(r.Packages) != 1 || r.Packages[0] != "openssl" {
		t.Errorf("seeded record = %+v", r)
	}

	// Release: an unknown ID changes nothing.
	err = s.ReleaseAdvisories(ctx, []string{a.ID, "ENMEI-SA-2026:0404"}, at)
	wantKind(t, "ReleaseAdvisories(unknown)", err, errs.NotFound)
	if got, _ := s.Advisory(ctx, a.ID); !got.Released.IsZero() {
		t.Errorf("a failed release released %s", a.ID)
	}
	seq1, err := s.TrackerSeq(ctx)
	must(t, err)
	must(t, s.ReleaseAdvisories(ctx, []string{a.ID}, at))
	must(t, s.ReleaseAdvisories(ctx, []string{a.ID}, at.Add(time.Hour))) // again: keeps the first time
	got, err = s.Advisory(ctx, a.ID)
	must(t, err)
	if !sameTime(got.Released, at) {
		t.Errorf("Released = %v, want %v", got.Released, at)
	}
	for _, repo := range []string{"alma9-x86_64", "alma9-noarch"} {
		list, err := s.RepoAdvisories(ctx, repo)
		must(t, err)
		if len(list) != 1 || list[0].ID != a.ID {
			t.Errorf("RepoAdvisories(%s) = %v, want [%s]", repo, ids(list), a.ID)
		}
	}
	if list, _ := s.RepoAdvisories(ctx, "deb12-main"); len(list) != 0 {
		t.Errorf("RepoAdvisories(deb12-main) = %v, want none", ids(list))
	}
	r, err = s.CVERecord(ctx, "CVE-2026-1001", "alma9")
	must(t, err)
	if r.Status != advisory.Released || !reflect.DeepEqual(r.Fixed, []string{a.ID}) {
		t.Errorf("after release: %+v; want released, fixed by %s", r, a.ID)
	}
	changed, err := s.CVERecords(ctx, seq1)
	must(t, err)
	if len(changed) != 2 {
		t.Errorf("CVERecords(since release) = %d records, want the 2 the release changed", len(changed))
	}
	newer, err := s.Advisories(ctx, seq1, true)
	must(t, err)
	if len(newer) != 1 || newer[0].ID != a.ID || newer[0].Seq <= seq1 {
		t.Errorf("Advisories(since, released) = %v", ids(newer))
	}
	if seq, _ := s.TrackerSeq(ctx); seq <= seq1 || seq1 <= seq0 {
		t.Errorf("tracker sequence %d → %d → %d does not grow with each write", seq0, seq1, seq)
	}
	// Updating a released advisory keeps it released.
	a.Updated = "2026-04-03"
	if rel, err := s.PutAdvisories(ctx, []advisory.Advisory{a}, nil, at); err != nil || len(rel) != 1 || rel[0] != a.ID {
		t.Errorf("PutAdvisories(released one again) = %v, %v; want [%s]", rel, err, a.ID)
	}
	if got, _ := s.Advisory(ctx, a.ID); got.Released.IsZero() || got.Updated != "2026-04-03" {
		t.Errorf("an updated released advisory = %+v, want released with the new date", got)
	}

	// SetCVE: history records changes of status or statement only.
	rec := advisory.Record{CVE: "CVE-2026-3000", Product: "deb12", Status: advisory.NeedsTriage, Updated: at}
	must(t, s.SetCVE(ctx, rec, "cve set"))
	must(t, s.SetCVE(ctx, rec, "cve set")) // unchanged
	rec.Status, rec.Statement = advisory.NotVulnerable, "Debian 12 builds without the affected module."
	rec.Justification = "vulnerable_code_not_present"
	rec.Packages = []string{"libxml2", "libxml2-utils"}
	rec.Override = &advisory.Override{Targeted: false, Reason: "not reachable"}
	rec.CVSS3, rec.Score, rec.Published = "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", 9.8, "2026-03-01"
	must(t, s.SetCVE(ctx, rec, "cve set"))
	r, err = s.CVERecord(ctx, rec.CVE, rec.Product)
	must(t, err)
	r.Seq, r.Updated, rec.Updated = 0, time.Time{}, time.Time{}
	if !reflect.DeepEqual(r, rec) {
		t.Errorf("CVERecord = %+v\nwant %+v", r, rec)
	}
	_, err = s.CVERecord(ctx, rec.CVE, "alma9")
	wantKind(t, "CVERecord(other product)", err, errs.NotFound)
	hist, err := s.CVEHistory(ctx, rec.CVE)
	must(t, err)
	var steps []string
	for _, h := range hist {
		steps = append(steps, fmt.Sprintf("%s→%s", h.From, h.To))
	}
	if want := []string{"→needs-triage", "needs-triage→not-vulnerable"}; !reflect.DeepEqual(steps, want) {
		t.Errorf("history = %v, want %v", steps, want)
	}
	hist, err = s.CVEHistory(ctx, "CVE-2026-1000")
	must(t, err)
	if len(hist) != 2 || hist[0].To != advisory.InTesting || hist[1].From != advisory.InTesting || hist[1].To != advisory.Released || hist[1].Source != "advisory "+a.ID {
		t.Errorf("history of a released CVE = %+v", hist)
	}

	// CVEChanges pages through every change without skipping one.
	var paged []advisory.Change
	var after int64
	for {
		page, err := s.CVEChanges(ctx, after, 2)
		must(t, err)
		if len(page) == 0 {
			break
		}
		paged = append(paged, page...)
		after = page[len(page)-1].Seq
	}
	// 1000, 1001: created and released; 2000: set (the seed did not
	// create it, and its advisory is not released); 3000: created and changed.
	if len(paged) != 7 {
		t.Errorf("CVEChanges paged %d changes, want 7: %+v", len(paged), paged)
	}
}

func ids(list []advisory.Advisory) []string {
	var out []string
	for _, a := range list {
		out = append(out, a.ID)
	}
	return out
}

func testAdvisoryNumbers(t *testing.T, s store.Store) {
	first, err := s.ReserveAdvisoryNumbers(ctx, "ENMEI-SA", 2026, 3)
	must(t, err)
	if first != 1 {
		t.Errorf("first number = %d, want 1", first)
	}
	trackerCatalog(t, s)
	// A number given by hand is never handed out again.
	_, err = s.PutAdvisories(ctx, []advisory.Advisory{sampleAdvisory("ENMEI-SA-2026:0010", "CVE-2026-1")}, nil, time.Now())
	must(t, err)
	next, err := s.ReserveAdvisoryNumbers(ctx, "ENMEI-SA", 2026, 1)
	must(t, err)
	if next != 11 {
		t.Errorf("after ENMEI-SA-2026:0010 the next number = %d, want 11", next)
	}
	if other, _ := s.ReserveAdvisoryNumbers(ctx, "ENMEI-SA", 2027, 1); other != 1 {
		t.Errorf("a new year starts at %d, want 1", other)
	}
	// Concurrent reservations never overlap.
	var mu sync.Mutex
	var firsts []int
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			f, err := s.ReserveAdvisoryNumbers(ctx, "X", 2026, 5)
			if err != nil {
				t.Error(err)
				return
			}
			mu.Lock()
			firsts = append(firsts, f)
			mu.Unlock()
		}()
	}
	wg.Wait()
	sort.Ints(firsts)
	for i, f := range firsts {
		if f != 1+5*i {
			t.Errorf("concurrent reservations started at %v, want 1, 6, 11, …", firsts)
			break
		}
	}
}
