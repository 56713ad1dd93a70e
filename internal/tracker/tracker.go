// Package tracker is the vendor's security tracker as a service: it adds
// and releases advisories, sets CVE statuses, keeps the tracker's settings
// (advisory ID prefix, OSV prefix, whether due dates are public, vendor
// holidays) and serves the tracker views from an in-memory snapshot that
// follows the store's tracker sequence, so a list of 100,000 CVEs is
// filtered without a query per request and every replica sees a change as
// soon as it is committed. The enmeid commands, the public pages, the feeds
// and the agent API all go through it, so a rule holds the same everywhere.
package tracker

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/enmei-project/enmei/internal/advisory"
	"github.com/enmei-project/enmei/internal/bizcal"
	"github.com/enmei-project/enmei/internal/errs"
	"github.com/enmei-project/enmei/internal/store"
)

// Store is what the tracker reads and changes.
type Store interface {
	store.Tracker
	Product(ctx context.Context, id string) (store.Product, error)
	Products(ctx context.Context) ([]store.Product, error)
	Repo(ctx context.Context, id string) (store.Repo, error)
	Repos(ctx context.Context, productID string) ([]store.Repo, error)
	Setting(ctx context.Context, name string) ([]byte, error)
	PutSetting(ctx context.Context, name string, value []byte) error
}

// Config is the tracker's settings, shared by every replica.
type Config struct {
	// Prefix starts advisory IDs the tracker assigns: PREFIX-YYYY:NNNN.
	Prefix string `json:"prefix"`
	// OSVPrefix starts OSV record IDs. OSV's schema accepts registered
	// database prefixes only; until the vendor registers one, the
	// local-database prefix "x_" keeps records valid.
	OSVPrefix string `json:"osv_prefix"`
	// HideDue keeps due dates and days left off the public pages and
	// feeds (the vendor still sees them).
	HideDue bool `json:"hide_due,omitempty"`
	// VendorHolidays are the vendor's own closed days, besides national
	// holidays and the 29 Dec – 3 Jan closure.
	VendorHolidays []string `json:"vendor_holidays,omitempty"`
}

// Defaults for a fresh tracker.
const (
	DefaultPrefix    = "ENMEI-SA"
	DefaultOSVPrefix = "x_ENMEI"
)

const configSetting = "tracker/config"

// Service is the tracker.
type Service struct {
	Store Store
	Now   func() time.Time
	Log   *slog.Logger
	// PublicURL is where the tracker's pages are (links in updateinfo).
	PublicURL string
	// Republish makes a new publication of a repository, carrying the
	// current updateinfo (nil: releases do not touch repositories).
	Republish func(ctx context.Context, repoID string) error
	// Changed runs after a change the public feeds show (a release, a
	// released advisory updated, a CVE record set): the command line
	// signs the CSAF documents there (nil: nothing).
	Changed func(ctx context.Context) error

	mu   sync.Mutex
	snap *Snapshot
}

func (s *Service) log() *slog.Logger {
	if s.Log == nil {
		return slog.Default()
	}
	return s.Log
}

// Config returns the tracker's settings with defaults filled in.
func (s *Service) Config(ctx context.Context) (Config, error) {
	c := Config{Prefix: DefaultPrefix, OSVPrefix: DefaultOSVPrefix}
	b, err := s.Store.Setting(ctx, configSetting)
	if errs.Is(err, errs.NotFound) {
		return c, nil
	}
	if err != nil {
		return c, err
	}
	if err := json.Unmarshal(b, &c); err != nil {
		return c, fmt.Errorf("reading the tracker settings: %w", err)
	}
	return c, nil
}

// SetConfig checks and stores the tracker's settings.
func (s *Service) SetConfig(ctx context.Context, c Config) error {
	if !advisory.PrefixRE.MatchString(c.Prefix) {
		return errs.E(errs.Invalid, "advisory prefix %q is not letters, digits, '.', '_' or '-' starting with a letter (e.g. ENMEI-SA)", c.Prefix)
	}
	if !osvPrefixOK(c.OSVPrefix) {
		return errs.E(errs.Invalid, "OSV prefix %q is not valid: use the prefix your OSV database registered, or x_NAME for a local one", c.OSVPrefix)
	}
	for _, d := range c.VendorHolidays {
		if _, err := bizcal.ParseDate(d); err != nil {
			return errs.E(errs.Invalid, "vendor holiday: %v", err)
		}
	}
	sort.Strings(c.VendorHolidays)
	b, err := json.Marshal(c)
	if err != nil {
		return err
	}
	return s.Store.PutSetting(ctx, configSetting, b)
}

func osvPrefixOK(p string) bool {
	if p == "" || len(p) > 40 {
		return false
	}
	for _, r := range p {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == '-' || r == '.') {
			return false
		}
	}
	return true
}

// Calendar is the business calendar of the release policy.
func (c Config) Calendar() bizcal.Calendar {
	var cal bizcal.Calendar
	for _, d := range c.VendorHolidays {
		if v, err := bizcal.ParseDate(d); err == nil {
			cal.VendorHolidays = append(cal.VendorHolidays, v)
		}
	}
	return cal
}

// Policy is the release policy on the tracker's calendar.
func (c Config) Policy() advisory.Policy { return advisory.DefaultPolicy(c.Calendar()) }

// Today is the current day in Asia/Tokyo.
func (s *Service) Today() bizcal.Date { return bizcal.DateOf(s.Now()) }

// repoIndex caches repositories for checking many advisories.
type repoIndex struct {
	st    Store
	repos map[string]store.Repo
	names map[string]string // product ID → name
}

func (s *Service) repoIndex(ctx context.Context) (*repoIndex, error) {
	repos, err := s.Store.Repos(ctx, "")
	if err != nil {
		return nil, err
	}
	products, err := s.Store.Products(ctx)
	if err != nil {
		return nil, err
	}
	ix := &repoIndex{st: s.Store, repos: map[string]store.Repo{}, names: map[string]string{}}
	for _, r := range repos {
		ix.repos[r.ID] = r
	}
	for _, p := range products {
		ix.names[p.ID] = p.Name
	}
	return ix, nil
}

func (ix *repoIndex) info(id string) (advisory.RepoInfo, bool) {
	r, ok := ix.repos[id]
	return advisory.RepoInfo{Product: r.ProductID, Format: r.Format}, ok
}

func (ix *repoIndex) product(repo string) string { return ix.repos[repo].ProductID }

// Add checks advisories, gives those without an ID the next free one, and
// stores them; the CVEs they fix get a tracker record (in-testing) for each
// product of their repositories unless they have one. Nothing is stored
// when one advisory is invalid. Advisories that were released already
// have their repositories' metadata made again.
func (s *Service) Add(ctx context.Context, advs []advisory.Advisory) ([]advisory.Advisory, error) {
	if len(advs) == 0 {
		return nil, errs.E(errs.Invalid, "no advisories given")
	}
	cfg, err := s.Config(ctx)
	if err != nil {
		return nil, err
	}
	ix, err := s.repoIndex(ctx)
	if err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	needID := map[int][]int{} // issued year → indexes
	for i := range advs {
		if err := advs[i].Check(ix.info); err != nil {
			return nil, err
		}
		if id := advs[i].ID; id != "" {
			if seen[id] {
				return nil, errs.E(errs.Invalid, "advisory %s is given twice", id)
			}
			seen[id] = true
			continue
		}
		year := 0
		fmt.Sscanf(advs[i].Issued, "%d", &year)
		needID[year] = append(needID[year], i)
	}
	years := make([]int, 0, len(needID))
	for y := range needID {
		years = append(years, y)
	}
	sort.Ints(years)
	for _, y := range years {
		list := needID[y]
		first, err := s.Store.ReserveAdvisoryNumbers(ctx, cfg.Prefix, y, len(list))
		if err != nil {
			return nil, fmt.Errorf("numbering advisories: %w", err)
		}
		for k, i := range list {
			advs[i].ID = fmt.Sprintf("%s-%d:%04d", cfg.Prefix, y, first+k)
		}
	}
	var seeds []advisory.Record
	for _, a := range advs {
		for _, product := range a.Products(ix.product) {
			var names []string
			for _, p := range a.Packages {
				if ix.product(p.Repo) == product && !slices.Contains(names, p.Name) {
					names = append(names, p.Name)
				}
			}
			for _, c := range a.CVEs {
				r := advisory.Record{CVE: c.ID, Product: product, Status: advisory.InTesting, CVSS3: c.CVSS, CVSS4: c.CVSS4,
					Published: c.Published, Packages: names, Fixed: []string{a.ID}}
				if err := r.SetScore(); err != nil {
					return nil, err
				}
				seeds = append(seeds, r)
			}
		}
	}
	released, err := s.Store.PutAdvisories(ctx, advs, seeds, s.Now())
	if err != nil {
		return nil, fmt.Errorf("storing advisories: %w", err)
	}
	if len(released) > 0 {
		if err := s.republish(ctx, ix, advs, released); err != nil {
			return advs, err
		}
		if err := s.changed(ctx); err != nil {
			return advs, err
		}
	}
	return advs, nil
}

func (s *Service) changed(ctx context.Context) error {
	if s.Changed == nil {
		return nil
	}
	if err := s.Changed(ctx); err != nil {
		return fmt.Errorf("the tracker changed, but its CSAF documents could not be updated (%w): run enmeid advisory csaf to try again", err)
	}
	return nil
}

// Release releases advisories: they appear in the updateinfo of their rpm
// repositories (one new publication per repository), the feeds and the
// tracker, and their CVEs become released for their products. Releasing
// again is harmless: it keeps the first release time and makes the
// metadata again (the way to finish a release whose republish failed).
// It returns the repositories that got a new publication.
func (s *Service) Release(ctx context.Context, ids []string) ([]string, error) {
	if len(ids) == 0 {
		return nil, errs.E(errs.Invalid, "no advisory IDs given")
	}
	if err := s.Store.ReleaseAdvisories(ctx, ids, s.Now()); err != nil {
		return nil, err
	}
	ix, err := s.repoIndex(ctx)
	if err != nil {
		return nil, err
	}
	var advs []advisory.Advisory
	for _, id := range ids {
		a, err := s.Store.Advisory(ctx, id)
		if err != nil {
			return nil, err
		}
		advs = append(advs, a)
	}
	repos := rpmRepos(ix, advs)
	if err := s.republish(ctx, ix, advs, ids); err != nil {
		return repos, err
	}
	return repos, s.changed(ctx)
}

// rpmRepos lists the rpm repositories of the advisories, sorted.
func rpmRepos(ix *repoIndex, advs []advisory.Advisory) []string {
	set := map[string]bool{}
	for _, a := range advs {
		for _, p := range a.Packages {
			if r, ok := ix.repos[p.Repo]; ok && r.Format == "rpm" {
				set[p.Repo] = true
			}
		}
	}
	out := make([]string, 0, len(set))
	for r := range set {
		out = append(out, r)
	}
	sort.Strings(out)
	return out
}

// republish makes new metadata for the rpm repositories of the given
// advisories (only those whose IDs are in ids).
func (s *Service) republish(ctx context.Context, ix *repoIndex, advs []advisory.Advisory, ids []string) error {
	if s.Republish == nil {
		return nil
	}
	want := map[string]bool{}
	for _, id := range ids {
		want[id] = true
	}
	var chosen []advisory.Advisory
	for _, a := range advs {
		if want[a.ID] {
			chosen = append(chosen, a)
		}
	}
	for _, repo := range rpmRepos(ix, chosen) {
		if err := s.Republish(ctx, repo); err != nil {
			return errs.Wrap(errs.KindOf(err), err, fmt.Sprintf("the advisories are released, but repository %s could not get new metadata (%v): fix that, then run enmeid advisory publish again", repo, err))
		}
		s.log().Info("updateinfo published", "repo", repo)
	}
	return nil
}

// SetCVE is what `enmeid cve set` asks for.
type SetCVE struct {
	CVE, Product  string
	Status        string
	Statement     *string // nil: keep
	Justification *string
	CVSS          *string // v3.x or v4.0 vector; "" clears
	Published     *string
	Packages      []string // nil: keep
	// Override: "" keeps, "target" or "skip" decide against the policy,
	// "policy" returns to the policy.
	Override       string
	OverrideReason string
}

// Set changes a CVE's record for a product and returns it.
func (s *Service) Set(ctx context.Context, in SetCVE) (advisory.Record, error) {
	in.CVE = strings.ToUpper(strings.TrimSpace(in.CVE))
	if !advisory.ValidCVE(in.CVE) {
		return advisory.Record{}, errs.E(errs.Invalid, "%q is not a CVE ID (CVE-YYYY-NNNN)", in.CVE)
	}
	if _, err := s.Store.Product(ctx, in.Product); err != nil {
		return advisory.Record{}, err
	}
	r, err := s.Store.CVERecord(ctx, in.CVE, in.Product)
	if err != nil && !errs.Is(err, errs.NotFound) {
		return r, err
	}
	if err != nil {
		r = advisory.Record{CVE: in.CVE, Product: in.Product, Status: advisory.NeedsTriage}
	}
	if in.Status != "" {
		st, err := advisory.ParseStatus(in.Status)
		if err != nil {
			return r, errs.E(errs.Invalid, "%v", err)
		}
		r.Status = st
	}
	if in.Statement != nil {
		r.Statement = strings.TrimSpace(*in.Statement)
	}
	if in.Justification != nil {
		r.Justification = *in.Justification
	}
	if in.Published != nil {
		r.Published = *in.Published
	}
	if in.Packages != nil {
		r.Packages = in.Packages
	}
	if in.CVSS != nil {
		v := strings.TrimSpace(*in.CVSS)
		switch {
		case v == "":
			r.CVSS3, r.CVSS4 = "", ""
		case strings.HasPrefix(v, "CVSS:4.0/"):
			r.CVSS4 = v
		default:
			r.CVSS3 = v
		}
	}
	if err := r.SetScore(); err != nil {
		return r, errs.E(errs.Invalid, "%v", err)
	}
	switch in.Override {
	case "":
	case "policy":
		r.Override = nil
	case "target", "skip":
		r.Override = &advisory.Override{Targeted: in.Override == "target", Reason: strings.TrimSpace(in.OverrideReason)}
	default:
		return r, errs.E(errs.Invalid, "--override %q is not one of target, skip, policy", in.Override)
	}
	if err := r.Check(); err != nil {
		return r, errs.E(errs.Invalid, "%s for %s: %v", in.CVE, in.Product, err)
	}
	r.Updated = s.Now()
	if err := s.Store.SetCVE(ctx, r, "cve set"); err != nil {
		return r, err
	}
	if err := s.changed(ctx); err != nil {
		return r, err
	}
	return s.Store.CVERecord(ctx, in.CVE, in.Product)
}

// Updateinfo renders a repository's updateinfo.xml from its released
// advisories (nil when there are none); publish calls it.
func (s *Service) Updateinfo(ctx context.Context, repo store.Repo) ([]byte, error) {
	advs, err := s.Store.RepoAdvisories(ctx, repo.ID)
	if err != nil || len(advs) == 0 {
		return nil, err
	}
	p, err := s.Store.Product(ctx, repo.ProductID)
	if err != nil {
		return nil, err
	}
	o := advisory.UpdateinfoOptions{Repo: repo.ID, Product: p.ID, ProductName: p.Name, From: "enmei", Lang: "en"}
	if s.PublicURL != "" {
		o.CVEURL = func(cve string) string { return s.PublicURL + "/security/cve/" + cve }
	}
	return advisory.Updateinfo(advs, o)
}

// History is a CVE's changes for every product, oldest first.
func (s *Service) History(ctx context.Context, cve string) ([]advisory.Change, error) {
	return s.Store.CVEHistory(ctx, cve)
}
