package tracker

import (
	"cmp"
	"context"
	"maps"
	"reflect"
	"slices"
	"sort"
	"strings"

	"github.com/enmei-project/enmei/internal/advisory"
	"github.com/enmei-project/enmei/internal/bizcal"
	"github.com/enmei-project/enmei/internal/errs"
	"github.com/enmei-project/enmei/internal/store"
)

// Snapshot is the whole tracker at one sequence: every CVE record, newest
// disclosure first, and every advisory. It is never changed once built, so
// any number of requests read it at once.
type Snapshot struct {
	Seq      int64
	Config   Config
	Records  []advisory.Record
	Products map[string]store.Product
	Repos    map[string]store.Repo
	// advisories by ID, drafts included (public readers use Released).
	advisories map[string]advisory.Advisory
	// Released lists the released advisories, newest release first.
	Released []advisory.Advisory
	entries  []entry // parallel to Records
	index    map[string]int
}

// entry is what the policy and the search need of a record, computed once
// per snapshot.
type entry struct {
	targeted, overridden bool
	due                  string
	dueDate              bizcal.Date
	search               string // lower-case CVE ID and package names
}

// Snapshot returns the tracker as of now: the cached one when the store's
// tracker sequence and the settings are unchanged (two small queries),
// else one brought up to date with only what changed.
func (s *Service) Snapshot(ctx context.Context) (*Snapshot, error) {
	seq, err := s.Store.TrackerSeq(ctx)
	if err != nil {
		return nil, err
	}
	cfg, err := s.Config(ctx)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	old := s.snap
	if old != nil && old.Seq == seq && reflect.DeepEqual(old.Config, cfg) {
		return old, nil
	}
	since := int64(0)
	if old != nil && old.Seq <= seq {
		since = old.Seq
	}
	recs, err := s.Store.CVERecords(ctx, since)
	if err != nil {
		return nil, err
	}
	advs, err := s.Store.Advisories(ctx, since, false)
	if err != nil {
		return nil, err
	}
	products, err := s.Store.Products(ctx)
	if err != nil {
		return nil, err
	}
	repos, err := s.Store.Repos(ctx, "")
	if err != nil {
		return nil, err
	}
	var records []advisory.Record
	all := map[string]advisory.Advisory{}
	if since > 0 {
		for id, a := range old.advisories {
			all[id] = a
		}
		changed := make(map[string]bool, len(recs))
		for _, r := range recs {
			changed[r.CVE+"\x00"+r.Product] = true
		}
		for _, r := range old.Records {
			if !changed[r.CVE+"\x00"+r.Product] {
				records = append(records, r)
			}
		}
	}
	records = append(records, recs...)
	for _, a := range advs {
		all[a.ID] = a
	}
	// The snapshot is at the sequence read first: a write landing between
	// the reads above is read again next time (records replace by key),
	// never skipped.
	snap := NewSnapshot(seq, cfg, products, repos, all, records)
	s.snap = snap
	return snap, nil
}

// NewSnapshot builds a snapshot from its parts (records is taken over and
// sorted). Feeds and tests build one directly.
func NewSnapshot(seq int64, cfg Config, products []store.Product, repos []store.Repo, advs map[string]advisory.Advisory, records []advisory.Record) *Snapshot {
	snap := &Snapshot{Seq: seq, Config: cfg, Products: map[string]store.Product{}, Repos: map[string]store.Repo{}, advisories: advs, Records: records, index: map[string]int{}}
	if snap.advisories == nil {
		snap.advisories = map[string]advisory.Advisory{}
	}
	for _, p := range products {
		snap.Products[p.ID] = p
	}
	for _, r := range repos {
		snap.Repos[r.ID] = r
	}
	sort.Slice(snap.Records, func(i, j int) bool {
		a, b := snap.Records[i], snap.Records[j]
		if a.Published != b.Published {
			return a.Published > b.Published
		}
		if a.CVE != b.CVE {
			return cveLess(b.CVE, a.CVE)
		}
		return a.Product < b.Product
	})
	for _, a := range snap.advisories {
		if !a.Released.IsZero() {
			snap.Released = append(snap.Released, a)
		}
	}
	sort.Slice(snap.Released, func(i, j int) bool {
		a, b := snap.Released[i], snap.Released[j]
		if !a.Released.Equal(b.Released) {
			return a.Released.After(b.Released)
		}
		return a.ID > b.ID
	})
	policy := cfg.Policy()
	snap.entries = make([]entry, len(snap.Records))
	for i, r := range snap.Records {
		var e entry
		var hasDue bool
		e.targeted, e.overridden, e.dueDate, hasDue = policy.Decide(r)
		if hasDue {
			e.due = e.dueDate.String()
		}
		e.search = strings.ToLower(r.CVE + " " + strings.Join(r.Packages, " "))
		snap.entries[i] = e
		snap.index[r.CVE+"\x00"+r.Product] = i
	}
	return snap
}

// cveLess orders CVE IDs by year, then number (CVE-2026-10000 after
// CVE-2026-9999).
func cveLess(a, b string) bool {
	if len(a) != len(b) && a[:9] == b[:9] {
		return len(a) < len(b)
	}
	return a < b
}

// Advisory returns an advisory; drafts only when withDrafts.
func (sn *Snapshot) Advisory(id string, withDrafts bool) (advisory.Advisory, bool) {
	a, ok := sn.advisories[id]
	if !ok || (!withDrafts && a.Released.IsZero()) {
		return advisory.Advisory{}, false
	}
	return a, true
}

// Filter selects tracker rows; zero values select everything.
type Filter struct {
	Product  string
	Status   string
	Severity string   // CVSS rating: critical, high, medium, low, none
	MinScore *float64 // inclusive
	MaxScore *float64 // inclusive
	Since    string   // disclosed on or after (YYYY-MM-DD)
	Q        string   // CVE ID or package name (substring, any case)
	Overdue  bool
}

// Check validates a filter as given by a user.
func (f Filter) Check() error {
	if f.Status != "" {
		if _, err := advisory.ParseStatus(f.Status); err != nil {
			return errs.E(errs.Invalid, "%v", err)
		}
	}
	switch f.Severity {
	case "", "critical", "high", "medium", "low", "none":
	default:
		return errs.E(errs.Invalid, "severity %q is not one of critical, high, medium, low, none", f.Severity)
	}
	for _, v := range []*float64{f.MinScore, f.MaxScore} {
		if v != nil && (*v < 0 || *v > 10) {
			return errs.E(errs.Invalid, "a score filter must be between 0 and 10")
		}
	}
	if f.Since != "" && !advisory.ValidDate(f.Since) {
		return errs.E(errs.Invalid, "since %q is not a date YYYY-MM-DD", f.Since)
	}
	return nil
}

// Row is one CVE for one product as the tracker lists it; its JSON is
// what `enmeid cve list --json` and tracker.json print.
type Row struct {
	CVE              string   `json:"cve"`
	Product          string   `json:"product"`
	Status           string   `json:"status"`
	CVSS             string   `json:"cvss"`
	Score            float64  `json:"score"`
	Severity         string   `json:"severity"`
	Published        string   `json:"published"`
	Targeted         bool     `json:"targeted"`
	Due              *string  `json:"due"`
	BusinessDaysLeft *int     `json:"business_days_left"`
	Overdue          bool     `json:"overdue"`
	Packages         []string `json:"packages"`
	Advisories       []string `json:"advisories"`
	// Override is the vendor's own decision and its reason: internal,
	// never in public views.
	Override string `json:"override,omitempty"`
}

// Rows returns the records f selects on today, in tracker order; public
// rows leave out what the vendor keeps internal (overrides, and due dates
// when the settings hide them). limit > 0 stops after that many; total is
// how many matched.
func (sn *Snapshot) Rows(f Filter, today bizcal.Date, public bool, offset, limit int) (rows []Row, total int) {
	cal := sn.Config.Calendar()
	left := map[bizcal.Date]int{}
	q := strings.ToLower(strings.TrimSpace(f.Q))
	for i := range sn.Records {
		r := &sn.Records[i]
		e := &sn.entries[i]
		if f.Product != "" && r.Product != f.Product || f.Status != "" && string(r.Status) != f.Status {
			continue
		}
		if f.MinScore != nil && r.Score < *f.MinScore || f.MaxScore != nil && r.Score > *f.MaxScore {
			continue
		}
		if f.Severity != "" && advisory.Rating(r.Score) != f.Severity {
			continue
		}
		if f.Since != "" && r.Published < f.Since {
			continue
		}
		if q != "" && !strings.Contains(e.search, q) {
			continue
		}
		overdue := e.due != "" && !r.Status.Closed() && today.After(e.dueDate)
		if f.Overdue && !overdue {
			continue
		}
		total++
		if total <= offset || (limit > 0 && len(rows) >= limit) {
			continue
		}
		row := Row{CVE: r.CVE, Product: r.Product, Status: string(r.Status), CVSS: cmp.Or(r.CVSS3, r.CVSS4), Score: r.Score,
			Severity: advisory.Rating(r.Score), Published: r.Published, Targeted: e.targeted, Overdue: overdue,
			Packages: nonNil(r.Packages), Advisories: sn.releasedOf(r.Fixed)}
		if e.due != "" && !(public && sn.Config.HideDue) {
			d, ok := left[e.dueDate]
			if !ok {
				d = cal.BusinessDaysBetween(today, e.dueDate)
				left[e.dueDate] = d
			}
			due := e.due
			row.Due, row.BusinessDaysLeft = &due, &d
		}
		if public && sn.Config.HideDue {
			row.Overdue = false
		}
		if !public && r.Override != nil {
			verb := "skip"
			if r.Override.Targeted {
				verb = "target"
			}
			row.Override = verb + ": " + r.Override.Reason
		}
		rows = append(rows, row)
	}
	return rows, total
}

func (sn *Snapshot) releasedOf(ids []string) []string {
	out := []string{}
	for _, id := range ids {
		if a, ok := sn.advisories[id]; ok && !a.Released.IsZero() {
			out = append(out, id)
		}
	}
	return out
}

// RepoProduct returns the product of a repository ("" if unknown).
func (sn *Snapshot) RepoProduct(repo string) string { return sn.Repos[repo].ProductID }

// Advisories lists every advisory, drafts included, by ID.
func (sn *Snapshot) Advisories() []advisory.Advisory {
	out := make([]advisory.Advisory, 0, len(sn.advisories))
	for _, id := range slices.Sorted(maps.Keys(sn.advisories)) {
		out = append(out, sn.advisories[id])
	}
	return out
}

// CVE returns every product's record of a CVE, by product.
func (sn *Snapshot) CVE(id string) []advisory.Record {
	var out []advisory.Record
	for _, p := range slices.Sorted(maps.Keys(sn.Products)) {
		if i, ok := sn.index[id+"\x00"+p]; ok {
			out = append(out, sn.Records[i])
		}
	}
	return out
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
