package web

import (
	"bytes"
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/csv"
	"encoding/hex"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/enmei-project/enmei/internal/advisory"
	"github.com/enmei-project/enmei/internal/advisory/osv"
	"github.com/enmei-project/enmei/internal/advisory/oval"
	"github.com/enmei-project/enmei/internal/bizcal"
	"github.com/enmei-project/enmei/internal/errs"
	"github.com/enmei-project/enmei/internal/tracker"
)

// Tracker is the security tracker the public pages show.
type Tracker interface {
	Snapshot(ctx context.Context) (*tracker.Snapshot, error)
	History(ctx context.Context, cve string) ([]advisory.Change, error)
}

// pageSize is how many CVE rows one tracker page shows.
const pageSize = 100

func (p *Portal) securityRoutes(handle func(pattern string, h http.Handler)) {
	pub := func(pattern string, h http.HandlerFunc) { handle(pattern, p.public(h)) }
	pub("GET /security/{$}", p.securityList)
	pub("GET /security/tracker.json", p.trackerExport)
	pub("GET /security/tracker.csv", p.trackerExport)
	pub("GET /security/cve/{id}", p.securityCVE)
	pub("GET /security/advisory/{id}", p.securityAdvisory)
	pub("GET /security/atom.xml", p.securityAtom)
	pub("GET /security/osv/{file}", p.securityOSV)
	pub("GET /security/oval/{file}", p.securityOVAL)
}

// feedCache keeps the last file made of each large feed (a product's OVAL
// file, the OSV zip: tens of megabytes and every advisory read to make),
// with the stamp of the snapshot it was made from. Keys are fixed names
// and product IDs of the catalogue, so it is bounded by the catalogue.
type feedCache struct {
	mu    sync.Mutex
	files map[string]feedFile
}

type feedFile struct {
	stamp string
	data  []byte
}

// get returns key's file for stamp, making it when the kept one is older.
func (c *feedCache) get(key, stamp string, make func() ([]byte, error)) ([]byte, error) {
	c.mu.Lock()
	f, ok := c.files[key]
	c.mu.Unlock()
	if ok && f.stamp == stamp {
		return f.data, nil
	}
	data, err := make()
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	if c.files == nil {
		c.files = map[string]feedFile{}
	}
	c.files[key] = feedFile{stamp: stamp, data: data}
	c.mu.Unlock()
	return data, nil
}

// securityOVAL serves PRODUCT.xml: OVAL definitions of the product's
// released advisories.
func (p *Portal) securityOVAL(w http.ResponseWriter, r *http.Request) {
	product, ok := strings.CutSuffix(r.PathValue("file"), ".xml")
	sn, _, err := p.snapshot(r.Context())
	if err != nil {
		http.Error(w, "the tracker is unavailable: try again later", http.StatusServiceUnavailable)
		return
	}
	if _, known := sn.Products[product]; !ok || !known {
		http.Error(w, "no such product", http.StatusNotFound)
		return
	}
	if notModified(w, r, "oval", product, sn.Seq, p.cfg.PublicURL) {
		return
	}
	data, err := p.feeds.get("oval/"+product, strconv.FormatInt(sn.Seq, 10), func() ([]byte, error) {
		return oval.Definitions(sn, product, oval.Options{PublicURL: strings.TrimRight(p.cfg.PublicURL, "/"), Vendor: p.cats["en"]["site.name"]})
	})
	if errs.Is(err, errs.NotFound) || errs.Is(err, errs.Invalid) {
		http.Error(w, "this product has no released advisories in OVAL", http.StatusNotFound)
		return
	}
	if err != nil {
		p.cfg.Log.Error("making OVAL definitions", "product", product, "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/xml")
	w.Write(data)
}

// securityOSV serves one advisory's OSV record (ID.json) or all of them
// (all.zip).
func (p *Portal) securityOSV(w http.ResponseWriter, r *http.Request) {
	file := r.PathValue("file")
	sn, _, err := p.snapshot(r.Context())
	if err != nil {
		http.Error(w, "the tracker is unavailable: try again later", http.StatusServiceUnavailable)
		return
	}
	o := osv.Options{PublicURL: strings.TrimRight(p.cfg.PublicURL, "/")}
	if file == "all.zip" {
		if notModified(w, r, "osv-zip", sn.Seq, sn.Config, o.PublicURL) {
			return
		}
		data, err := p.feeds.get("osv/all.zip", fmt.Sprint(sn.Seq, "\x00", sn.Config.OSVPrefix), func() ([]byte, error) {
			var buf bytes.Buffer
			err := osv.Zip(sn, o, &buf)
			return buf.Bytes(), err
		})
		if err != nil {
			p.cfg.Log.Error("making the OSV zip", "err", err)
			http.Error(w, "internal error", http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "application/zip")
		w.Header().Set("Content-Disposition", `attachment; filename="osv-all.zip"`)
		w.Write(data)
		return
	}
	id, ok := strings.CutSuffix(file, ".json")
	a, found := sn.Advisory(id, false)
	if !ok || !advisory.ValidID(id) || !found {
		http.Error(w, "no released advisory has this ID", http.StatusNotFound)
		return
	}
	if notModified(w, r, "osv", id, a.Seq, sn.Config, o.PublicURL) {
		return
	}
	data, err := osv.Record(sn, a, o)
	if err != nil {
		p.cfg.Log.Error("making an OSV record", "advisory", id, "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Write(data)
}

// public wraps a page anyone may read and cache: the headers of every page;
// each handler's notModified replaces secured's no-store with revalidation
// by ETag, so errors stay uncached.
func (p *Portal) public(h http.HandlerFunc) http.Handler {
	inner := p.secured(h)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if p.cfg.Tracker == nil {
			http.NotFound(w, r)
			return
		}
		inner.ServeHTTP(w, r)
	})
}

// notModified sets a weak ETag made of what the response depends on and
// answers 304 when the client has it.
func notModified(w http.ResponseWriter, r *http.Request, parts ...any) bool {
	h := sha256.New()
	for _, part := range parts {
		fmt.Fprintf(h, "%v\x00", part)
	}
	etag := `W/"` + hex.EncodeToString(h.Sum(nil)[:12]) + `"`
	w.Header().Set("ETag", etag)
	w.Header().Set("Cache-Control", "public, no-cache")
	for _, v := range strings.Split(r.Header.Get("If-None-Match"), ",") {
		if strings.TrimSpace(v) == etag {
			w.WriteHeader(http.StatusNotModified)
			return true
		}
	}
	return false
}

// filterOf reads the tracker filters from a query.
func filterOf(q url.Values) (tracker.Filter, error) {
	f := tracker.Filter{Product: q.Get("product"), Status: q.Get("status"), Severity: q.Get("severity"), Since: q.Get("since"), Q: q.Get("q")}
	for name, dst := range map[string]**float64{"min_score": &f.MinScore, "max_score": &f.MaxScore} {
		if v := strings.TrimSpace(q.Get(name)); v != "" {
			n, err := strconv.ParseFloat(v, 64)
			if err != nil {
				return f, errs.E(errs.Invalid, "%s=%q is not a number from 0 to 10", name, v)
			}
			*dst = &n
		}
	}
	if q.Get("overdue") == "1" {
		f.Overdue = true
	}
	if len(f.Q) > 100 {
		return f, errs.E(errs.Invalid, "the search text is too long (100 characters at most)")
	}
	return f, f.Check()
}

type securityListData struct {
	Rows      []tracker.Row
	Total     int
	Filter    tracker.Filter
	Query     url.Values
	Products  []productOption
	Statuses  []advisory.Status
	Page      int
	Pages     int
	PrevURL   string
	NextURL   string
	ExportQS  string
	HideDue   bool
	MinScore  string
	MaxScore  string
	Generated time.Time
}

type productOption struct{ ID, Name string }

func (p *Portal) snapshot(ctx context.Context) (*tracker.Snapshot, bizcal.Date, error) {
	sn, err := p.cfg.Tracker.Snapshot(ctx)
	return sn, bizcal.DateOf(p.cfg.Now()), err
}

func (p *Portal) securityList(w http.ResponseWriter, r *http.Request) {
	v := &view{Title: "security.title"}
	q := r.URL.Query()
	f, err := filterOf(q)
	if err != nil {
		p.fail(w, r, v, err)
		return
	}
	sn, today, err := p.snapshot(r.Context())
	if err != nil {
		p.fail(w, r, v, err)
		return
	}
	if f.Overdue && sn.Config.HideDue {
		f.Overdue = false
	}
	page, _ := strconv.Atoi(q.Get("page"))
	page = max(page, 1)
	v.L = p.locale(r)
	if notModified(w, r, "list", sn.Seq, sn.Config, today, v.L.Lang, r.URL.RawQuery) {
		return
	}
	rows, total := sn.Rows(f, today, true, (page-1)*pageSize, pageSize)
	d := &securityListData{Rows: rows, Total: total, Filter: f, Query: q, Statuses: advisory.Statuses, Page: page,
		Pages: max(1, (total+pageSize-1)/pageSize), HideDue: sn.Config.HideDue, Generated: p.cfg.Now()}
	for _, id := range sortedProducts(sn) {
		d.Products = append(d.Products, productOption{ID: id, Name: sn.Products[id].Name})
	}
	if f.MinScore != nil {
		d.MinScore = strconv.FormatFloat(*f.MinScore, 'f', -1, 64)
	}
	if f.MaxScore != nil {
		d.MaxScore = strconv.FormatFloat(*f.MaxScore, 'f', -1, 64)
	}
	withPage := func(n int) string {
		qq := url.Values{}
		for k, vs := range q {
			qq[k] = vs
		}
		qq.Set("page", strconv.Itoa(n))
		return "/security/?" + qq.Encode()
	}
	if page > 1 {
		d.PrevURL = withPage(page - 1)
	}
	if page < d.Pages {
		d.NextURL = withPage(page + 1)
	}
	qq := url.Values{}
	for k, vs := range q {
		if k != "page" {
			qq[k] = vs
		}
	}
	if len(qq) > 0 {
		d.ExportQS = "?" + qq.Encode()
	}
	v.Data = d
	p.render(w, r, http.StatusOK, "security", v)
}

func sortedProducts(sn *tracker.Snapshot) []string {
	ids := make([]string, 0, len(sn.Products))
	for id, pr := range sn.Products {
		if pr.Format == "rpm" || pr.Format == "deb" {
			ids = append(ids, id)
		}
	}
	sort.Strings(ids)
	return ids
}

// trackerExport is the list as JSON (the objects of enmeid cve list --json)
// or CSV with a header row, with the same filters.
func (p *Portal) trackerExport(w http.ResponseWriter, r *http.Request) {
	asCSV := strings.HasSuffix(r.URL.Path, ".csv")
	f, err := filterOf(r.URL.Query())
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	sn, today, err := p.snapshot(r.Context())
	if err != nil {
		p.cfg.Log.Error("tracker export", "err", err)
		http.Error(w, "the tracker is unavailable: try again later", http.StatusServiceUnavailable)
		return
	}
	if f.Overdue && sn.Config.HideDue {
		f.Overdue = false
	}
	if notModified(w, r, "export", asCSV, sn.Seq, sn.Config, today, r.URL.RawQuery) {
		return
	}
	rows, _ := sn.Rows(f, today, true, 0, 0)
	var buf bytes.Buffer
	if asCSV {
		cw := csv.NewWriter(&buf)
		cw.Write([]string{"cve", "product", "status", "cvss", "score", "severity", "published", "targeted", "due", "business_days_left", "overdue", "packages", "advisories"})
		for _, row := range rows {
			due, left := "", ""
			if row.Due != nil {
				due, left = *row.Due, strconv.Itoa(*row.BusinessDaysLeft)
			}
			cw.Write([]string{row.CVE, row.Product, row.Status, row.CVSS, strconv.FormatFloat(row.Score, 'f', 1, 64), row.Severity, row.Published,
				strconv.FormatBool(row.Targeted), due, left, strconv.FormatBool(row.Overdue), strings.Join(row.Packages, " "), strings.Join(row.Advisories, " ")})
		}
		cw.Flush()
		w.Header().Set("Content-Type", "text/csv; charset=utf-8")
		w.Header().Set("Content-Disposition", `attachment; filename="tracker.csv"`)
	} else {
		if rows == nil {
			rows = []tracker.Row{}
		}
		enc := json.NewEncoder(&buf)
		enc.SetEscapeHTML(false)
		enc.Encode(rows)
		w.Header().Set("Content-Type", "application/json")
	}
	w.Write(buf.Bytes())
}

type cveProduct struct {
	Record     advisory.Record
	Name       string
	Row        tracker.Row
	VEX        string
	Advisories []advisory.Advisory
}

type securityCVEData struct {
	ID       string
	Products []cveProduct
	History  []advisory.Change
	Vector   string
	Score    float64
	Severity string
	HideDue  bool
}

func (p *Portal) securityCVE(w http.ResponseWriter, r *http.Request) {
	v := &view{Title: "security.cve_title"}
	id := strings.ToUpper(r.PathValue("id"))
	if !advisory.ValidCVE(id) {
		p.fail(w, r, v, errs.E(errs.NotFound, "no such CVE"))
		return
	}
	sn, today, err := p.snapshot(r.Context())
	if err != nil {
		p.fail(w, r, v, err)
		return
	}
	recs := sn.CVE(id)
	if len(recs) == 0 {
		p.fail(w, r, v, errs.E(errs.NotFound, "%s is not on the tracker", id))
		return
	}
	v.L = p.locale(r)
	if notModified(w, r, "cve", id, sn.Seq, sn.Config, today, v.L.Lang) {
		return
	}
	hist, err := p.cfg.Tracker.History(r.Context(), id)
	if err != nil {
		p.fail(w, r, v, err)
		return
	}
	d := &securityCVEData{ID: id, History: hist, HideDue: sn.Config.HideDue}
	rows, _ := sn.Rows(tracker.Filter{Q: id}, today, true, 0, 0)
	for _, rec := range recs {
		cp := cveProduct{Record: rec, Name: sn.Products[rec.Product].Name}
		cp.VEX, _ = advisory.VEX(rec.Status)
		for _, row := range rows {
			if row.CVE == id && row.Product == rec.Product {
				cp.Row = row
			}
		}
		for _, aid := range rec.Fixed {
			if a, ok := sn.Advisory(aid, false); ok {
				cp.Advisories = append(cp.Advisories, a)
			}
		}
		if rec.Score > d.Score || d.Vector == "" {
			d.Score, d.Vector = rec.Score, cmp.Or(rec.CVSS3, rec.CVSS4)
		}
		d.Products = append(d.Products, cp)
	}
	d.Severity = advisory.Rating(d.Score)
	v.Data = d
	v.TitleArg = id
	p.render(w, r, http.StatusOK, "security_cve", v)
}

type securityAdvisoryData struct {
	Advisory advisory.Advisory
	Products map[string]string // repo → product name
}

func (p *Portal) securityAdvisory(w http.ResponseWriter, r *http.Request) {
	v := &view{Title: "security.advisory_title"}
	id := r.PathValue("id")
	if !advisory.ValidID(id) {
		p.fail(w, r, v, errs.E(errs.NotFound, "no such advisory"))
		return
	}
	sn, _, err := p.snapshot(r.Context())
	if err != nil {
		p.fail(w, r, v, err)
		return
	}
	a, ok := sn.Advisory(id, false)
	if !ok {
		p.fail(w, r, v, errs.E(errs.NotFound, "advisory %s is not published", id))
		return
	}
	v.L = p.locale(r)
	if notModified(w, r, "advisory", id, a.Seq, v.L.Lang) {
		return
	}
	d := &securityAdvisoryData{Advisory: a, Products: map[string]string{}}
	for _, pk := range a.Packages {
		d.Products[pk.Repo] = sn.Products[sn.RepoProduct(pk.Repo)].Name
	}
	v.Data = d
	v.TitleArg = id
	p.render(w, r, http.StatusOK, "security_advisory", v)
}

// Atom 1.0, as encoding/xml writes it.
type atomFeed struct {
	XMLName xml.Name    `xml:"http://www.w3.org/2005/Atom feed"`
	Title   string      `xml:"title"`
	ID      string      `xml:"id"`
	Updated string      `xml:"updated"`
	Links   []atomLink  `xml:"link"`
	Author  atomPerson  `xml:"author"`
	Entries []atomEntry `xml:"entry"`
}

type atomLink struct {
	Href string `xml:"href,attr"`
	Rel  string `xml:"rel,attr,omitempty"`
	Type string `xml:"type,attr,omitempty"`
}

type atomPerson struct {
	Name string `xml:"name"`
}

type atomEntry struct {
	Title     string     `xml:"title"`
	ID        string     `xml:"id"`
	Updated   string     `xml:"updated"`
	Published string     `xml:"published"`
	Links     []atomLink `xml:"link"`
	Summary   string     `xml:"summary"`
	Category  []atomCat  `xml:"category"`
}

type atomCat struct {
	Term string `xml:"term,attr"`
}

// atomEntries bounds the feed: readers want what is new.
const atomEntries = 200

func (p *Portal) securityAtom(w http.ResponseWriter, r *http.Request) {
	sn, _, err := p.snapshot(r.Context())
	if err != nil {
		http.Error(w, "the tracker is unavailable: try again later", http.StatusServiceUnavailable)
		return
	}
	lang := pickLang(r)
	if notModified(w, r, "atom", sn.Seq, lang) {
		return
	}
	base := strings.TrimRight(p.cfg.PublicURL, "/")
	feed := atomFeed{Title: p.cats[lang]["security.atom_title"], ID: base + "/security/atom.xml", Author: atomPerson{Name: p.cats[lang]["site.name"]},
		Links: []atomLink{{Href: base + "/security/atom.xml", Rel: "self", Type: "application/atom+xml"}, {Href: base + "/security/", Rel: "alternate", Type: "text/html"}}}
	feed.Updated = time.Unix(0, 0).UTC().Format(time.RFC3339)
	for i, a := range sn.Released {
		if i == atomEntries {
			break
		}
		updated := a.Released
		if u, err := time.ParseInLocation("2006-01-02", a.Updated, time.UTC); err == nil && u.After(updated) {
			updated = u
		}
		if i == 0 || updated.After(mustTime(feed.Updated)) {
			feed.Updated = updated.UTC().Format(time.RFC3339)
		}
		e := atomEntry{Title: a.ID + ": " + a.Title.In(lang), ID: base + "/security/advisory/" + a.ID,
			Published: a.Released.UTC().Format(time.RFC3339), Updated: updated.UTC().Format(time.RFC3339),
			Links:   []atomLink{{Href: base + "/security/advisory/" + a.ID, Rel: "alternate", Type: "text/html"}},
			Summary: a.Description.In(lang), Category: []atomCat{{Term: a.Type}}}
		if a.Severity != "" {
			e.Category = append(e.Category, atomCat{Term: a.Severity})
		}
		feed.Entries = append(feed.Entries, e)
	}
	var buf bytes.Buffer
	buf.WriteString(xml.Header)
	enc := xml.NewEncoder(&buf)
	enc.Indent("", "  ")
	if err := enc.Encode(feed); err != nil {
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/atom+xml; charset=utf-8")
	w.Write(buf.Bytes())
}

func mustTime(s string) time.Time {
	t, _ := time.Parse(time.RFC3339, s)
	return t
}
