package csaf

import (
	"bytes"
	"context"
	"html"
	"io"
	"net/http"
	"path"
	"sort"
	"strings"
	"sync"
	"time"
)

// Mount points: the handler serves these absolute paths and expects the
// request path unchanged (no http.StripPrefix).
const (
	// CSAFPath is the tree's root; route the pattern "/.well-known/csaf/"
	// to the handler.
	CSAFPath = "/.well-known/csaf/"
	// SecurityTxtPath is security.txt (CSAF requirement 8); route it to the
	// handler too unless the site serves its own with a CSAF: line.
	SecurityTxtPath = "/.well-known/security.txt"
)

// Handler serves the tree of the current manifest, looked up on every
// request so a new manifest is served at once, with the blobs read through
// open. It needs no key. Files carry their blob address as ETag (304 on
// If-None-Match) and the content types the CSAF checker expects;
// directories get the HTML listings the directory-based distribution
// requires (requirement 14). Unknown paths, including any with "..", are
// 404: the tree is a map lookup, never a file system path.
func Handler(manifest func(ctx context.Context) (*Manifest, error), open func(ctx context.Context, sum string) (io.ReadSeekCloser, error)) http.Handler {
	return &handler{manifest: manifest, open: open}
}

type handler struct {
	manifest func(ctx context.Context) (*Manifest, error)
	open     func(ctx context.Context, sum string) (io.ReadSeekCloser, error)

	mu      sync.Mutex
	lastKey string
	dirs    map[string][]string // directory (relative, "" or ending in "/") → entries
}

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	p := r.URL.Path
	if p != SecurityTxtPath && !strings.HasPrefix(p, CSAFPath) && p != strings.TrimSuffix(CSAFPath, "/") {
		http.NotFound(w, r)
		return
	}
	m, err := h.manifest(r.Context())
	if err != nil {
		http.Error(w, "the CSAF documents are not available right now", http.StatusServiceUnavailable)
		return
	}
	if m == nil {
		http.NotFound(w, r)
		return
	}
	if p == SecurityTxtPath {
		if m.SecurityTxt == nil {
			http.NotFound(w, r)
			return
		}
		h.serveBlob(w, r, "security.txt", *m.SecurityTxt)
		return
	}
	rel := strings.TrimPrefix(strings.TrimPrefix(p, strings.TrimSuffix(CSAFPath, "/")), "/")
	if !clean(rel) {
		http.NotFound(w, r)
		return
	}
	dirs := h.listing(m)
	if rel == "" || strings.HasSuffix(rel, "/") {
		entries, ok := dirs[rel]
		if !ok {
			http.NotFound(w, r)
			return
		}
		h.serveListing(w, r, rel, entries)
		return
	}
	if ref, ok := m.Files[rel]; ok {
		h.serveBlob(w, r, path.Base(rel), ref)
		return
	}
	if _, ok := dirs[rel+"/"]; ok {
		http.Redirect(w, r, p+"/", http.StatusMovedPermanently)
		return
	}
	http.NotFound(w, r)
}

// clean reports whether a relative path is one the tree could hold: no
// empty, "." or ".." segment (but a trailing slash), no backslash or NUL.
func clean(rel string) bool {
	if strings.ContainsAny(rel, "\\\x00") {
		return false
	}
	segs := strings.Split(rel, "/")
	for i, s := range segs {
		if s == "" && i == len(segs)-1 {
			continue
		}
		if s == "" || s == "." || s == ".." {
			return false
		}
	}
	return true
}

func contentType(name string) string {
	switch path.Ext(name) {
	case ".json":
		// Exactly this: the checker rejects parameters.
		return "application/json"
	case ".txt", ".asc", ".sha256", ".sha512", ".csv":
		return "text/plain; charset=utf-8"
	}
	return "application/octet-stream"
}

func setCommon(w http.ResponseWriter) {
	hd := w.Header()
	// Revalidate every time: an ETag makes that a 304, and a new
	// manifest is seen at once.
	hd.Set("Cache-Control", "no-cache")
	hd.Set("X-Content-Type-Options", "nosniff")
	// TLP:WHITE documents are public; browser tools may read them.
	hd.Set("Access-Control-Allow-Origin", "*")
}

func (h *handler) serveBlob(w http.ResponseWriter, r *http.Request, name string, ref FileRef) {
	setCommon(w)
	w.Header().Set("Content-Type", contentType(name))
	w.Header().Set("ETag", `"`+ref.Sum+`"`)
	// Answer a matching If-None-Match before opening the blob.
	if inm := r.Header.Get("If-None-Match"); inm != "" && etagMatch(inm, ref.Sum) {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	f, err := h.open(r.Context(), ref.Sum)
	if err != nil {
		http.Error(w, "the file is not available right now", http.StatusServiceUnavailable)
		return
	}
	defer f.Close()
	http.ServeContent(w, r, name, time.Time{}, f)
}

// etagMatch implements If-None-Match's weak comparison for our strong tags.
func etagMatch(header, sum string) bool {
	for _, t := range strings.Split(header, ",") {
		t = strings.TrimPrefix(strings.TrimSpace(t), "W/")
		if t == "*" || t == `"`+sum+`"` {
			return true
		}
	}
	return false
}

func (h *handler) serveListing(w http.ResponseWriter, r *http.Request, rel string, entries []string) {
	var b bytes.Buffer
	title := "Index of " + CSAFPath + rel
	b.WriteString("<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>" + html.EscapeString(title) + "</title></head>\n<body><h1>" + html.EscapeString(title) + "</h1>\n<ul>\n")
	if rel != "" {
		b.WriteString("<li><a href=\"../\">../</a></li>\n")
	}
	for _, e := range entries {
		b.WriteString("<li><a href=\"" + html.EscapeString(e) + "\">" + html.EscapeString(e) + "</a></li>\n")
	}
	b.WriteString("</ul>\n</body></html>\n")
	data := b.Bytes()
	sum := sum256(data)
	setCommon(w)
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("ETag", `"`+sum+`"`)
	if inm := r.Header.Get("If-None-Match"); inm != "" && etagMatch(inm, sum) {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	http.ServeContent(w, r, "index.html", time.Time{}, bytes.NewReader(data))
}

// listing returns the directories of a manifest, computed once per
// tree. The tree holds the documents index.txt lists, index.txt,
// changes.csv, provider-metadata.json and the key it names, so those two
// files' addresses identify the set of paths, even when the manifest is
// decoded anew for each request.
func (h *handler) listing(m *Manifest) map[string][]string {
	key := m.Files[whiteDir+"index.txt"].Sum + "/" + m.Files[pmdName].Sum
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.lastKey == key && h.dirs != nil {
		return h.dirs
	}
	sets := map[string]map[string]bool{"": {}}
	for p := range m.Files {
		dir := ""
		for {
			i := strings.IndexByte(p[len(dir):], '/')
			if sets[dir] == nil {
				sets[dir] = map[string]bool{}
			}
			if i < 0 {
				sets[dir][p[len(dir):]] = true
				break
			}
			sets[dir][p[len(dir):len(dir)+i+1]] = true
			dir = p[:len(dir)+i+1]
		}
	}
	dirs := make(map[string][]string, len(sets))
	for d, set := range sets {
		entries := make([]string, 0, len(set))
		for e := range set {
			entries = append(entries, e)
		}
		// Directories first, then files, each by name.
		sort.Slice(entries, func(i, j int) bool {
			di, dj := strings.HasSuffix(entries[i], "/"), strings.HasSuffix(entries[j], "/")
			if di != dj {
				return di
			}
			return entries[i] < entries[j]
		})
		dirs[d] = entries
	}
	h.lastKey, h.dirs = key, dirs
	return dirs
}
