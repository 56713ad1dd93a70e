package web

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Listing is a directory of a product's Maven repository, as RenderListing
// shows it.
type Listing struct {
	Product     string // the product ID: the repository is /maven/<Product>/
	ProductName string
	// Path is the directory within the repository, with or without
	// slashes around it: "" for the root, "com/example/lib/".
	Path    string
	Entries []ListingEntry // shown in this order
}

// ListingEntry is one file or directory of a Listing.
type ListingEntry struct {
	Name     string // the entry's name, without a slash
	Dir      bool
	Size     int64  // files only
	SHA256   string // files only, lower-case hex ("" if not known)
	Modified time.Time
}

// listingView is what the listing template receives.
type listingView struct {
	Product, ProductName string
	Crumbs               []listingCrumb // the repository root first; the last is this directory
	Parent               string         // the parent directory's href ("" at the root)
	Rows                 []listingRow
}

type listingCrumb struct {
	Name, Href string
	Current    bool // the directory shown
}

type listingRow struct {
	Name, Href     string
	Dir            bool
	Size, Modified string
	SHA256         string
}

// RenderListing writes a directory listing page of a Maven repository in
// the portal's style and language, with the headers every portal page
// carries. Names are escaped on the page and in links, whatever they hold;
// links are absolute paths under /maven/<product>/, directories ending in a
// slash. Entries named "", "." or ".." are left out.
func (p *Portal) RenderListing(w http.ResponseWriter, r *http.Request, l Listing) {
	pageHeaders(w.Header())
	v := &view{Title: "maven.listing_title", L: p.locale(r)}
	if name, ok := p.DeveloperSession(r); ok {
		v.Developer = name
	}
	var segs []string
	for _, s := range strings.Split(l.Path, "/") {
		if s != "" && s != "." {
			segs = append(segs, s)
		}
	}
	href := "/maven/" + url.PathEscape(l.Product) + "/"
	lv := listingView{Product: l.Product, ProductName: l.ProductName, Crumbs: []listingCrumb{{Name: l.Product, Href: href}}}
	for _, s := range segs {
		href += url.PathEscape(s) + "/"
		lv.Crumbs = append(lv.Crumbs, listingCrumb{Name: s, Href: href})
	}
	n := len(lv.Crumbs)
	lv.Crumbs[n-1].Current = true
	if n > 1 {
		lv.Parent = lv.Crumbs[n-2].Href
	}
	shown := "/"
	if len(segs) > 0 {
		shown = strings.Join(segs, "/") + "/"
	}
	v.TitleArg = l.Product + " — " + shown
	for _, e := range l.Entries {
		if e.Name == "" || e.Name == "." || e.Name == ".." {
			continue
		}
		row := listingRow{Name: e.Name, Href: href + url.PathEscape(e.Name), Dir: e.Dir, Size: "—", SHA256: e.SHA256, Modified: v.L.Time(e.Modified)}
		if e.Dir {
			row.Name += "/"
			row.Href += "/"
			row.SHA256 = ""
		} else {
			row.Size = groupDigits(e.Size)
		}
		lv.Rows = append(lv.Rows, row)
	}
	v.Data = lv
	p.render(w, r, http.StatusOK, "maven_listing", v)
}

// groupDigits writes n with a comma between groups of three digits.
func groupDigits(n int64) string {
	s := strconv.FormatInt(n, 10)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	if neg {
		b.WriteByte('-')
	}
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String()
}
