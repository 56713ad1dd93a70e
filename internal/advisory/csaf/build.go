// Package csaf publishes the tracker as a CSAF 2.0 provider (role
// csaf_provider, directory-based distribution, TLP:WHITE): one
// csaf_security_advisory per released advisory and one csaf_vex document
// per CVE, with provider-metadata.json, index.txt, changes.csv, checksums,
// OpenPGP signatures and security.txt. The server holds only the public
// key, so the work is split in three: pure generation of deterministic
// documents from a tracker snapshot, an incremental Build that runs where
// the private key is (the vendor's CLI) and signs only documents whose
// content changed, storing every file as a content-addressed blob listed
// in a Manifest, and a read-only Handler that serves a manifest's tree.
package csaf

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/url"
	"runtime"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/enmei-project/enmei/internal/advisory"
	"github.com/enmei-project/enmei/internal/tracker"
)

// Signer signs documents: the repositories' OpenPGP key, which only the
// vendor's CLI holds. *sign.Key implements it. It must be safe for
// concurrent use (Build signs on every CPU).
type Signer interface {
	DetachSignArmored(r io.Reader) ([]byte, error)
}

// Options describe the provider.
type Options struct {
	// PublicURL is the site's public base URL, e.g. https://els.example.com
	// (no trailing slash). CSAF requires https; http is accepted only for
	// tests behind a proxy.
	PublicURL string
	// Publisher is the publisher's name (the vendor).
	Publisher string
	// Namespace is the publisher's namespace URL (default PublicURL).
	Namespace string
	// ContactDetails tells how to reach the publisher, e.g. security@vendor.
	ContactDetails string
	// PublicKeyArmored is the signing key's public half, listed in
	// provider-metadata.json and served as openpgp/<FINGERPRINT>.asc.
	PublicKeyArmored []byte
	// Fingerprint is that key's fingerprint (hex). When it changes, Build
	// signs every document again.
	Fingerprint string
	// AdvisoryURL, if set, is the vendor's page of an advisory, linked from
	// documents ("" for none); by default they link the advisory's CSAF
	// document.
	AdvisoryURL func(id string) string
	// CVEURL is the tracker page of a CVE (default PublicURL/security/cve/ID).
	CVEURL func(cve string) string
	// Unlisted and NoMirror clear list_on_CSAF_aggregators and
	// mirror_on_CSAF_aggregators (both true by default: the documents are
	// public).
	Unlisted, NoMirror bool
	// Now is the clock (default time.Now).
	Now func() time.Time
}

func (o Options) check() (Options, error) {
	o.PublicURL = strings.TrimRight(strings.TrimSpace(o.PublicURL), "/")
	u, err := url.Parse(o.PublicURL)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || (u.Path != "" && u.Path != "/") {
		return o, fmt.Errorf("csaf: public URL %q is not a site's base URL like https://els.example.com", o.PublicURL)
	}
	if strings.TrimSpace(o.Publisher) == "" {
		return o, errors.New("csaf: a publisher name is needed")
	}
	if o.Namespace == "" {
		o.Namespace = o.PublicURL
	}
	if len(o.PublicKeyArmored) > 0 {
		if len(o.Fingerprint) < 40 || strings.Trim(o.Fingerprint, "0123456789abcdefABCDEF") != "" {
			return o, fmt.Errorf("csaf: fingerprint %q is not a hex OpenPGP fingerprint", o.Fingerprint)
		}
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return o, nil
}

// FileRef is a served file: its blob address (sha256 hex) and size.
type FileRef struct {
	Sum  string `json:"sum"`
	Size int64  `json:"size"`
}

// Manifest is a published CSAF tree and what Build needs to update it
// incrementally. It holds no secret.
type Manifest struct {
	Format int `json:"format"`
	// Seq is the tracker sequence the manifest was built from.
	Seq int64 `json:"seq"`
	// Fingerprint is the key that signed the documents.
	Fingerprint string `json:"fingerprint,omitempty"`
	// Updated is provider-metadata.json's last_updated.
	Updated time.Time `json:"updated"`
	// Meta is the sha256 of provider-metadata.json without last_updated,
	// so an unchanged provider keeps its date.
	Meta string `json:"meta,omitempty"`
	// Files is the tree under /.well-known/csaf/, by path relative to it
	// ("provider-metadata.json", "white/2026/enmei-sa-2026_0001.json", …).
	Files map[string]FileRef `json:"files"`
	// SecurityTxt is /.well-known/security.txt, which points at
	// provider-metadata.json (CSAF requirement 8).
	SecurityTxt *FileRef `json:"security_txt,omitempty"`
	// SecurityExpires is the Expires of security.txt (renewed a month
	// before a year is out, so it does not change on every build).
	SecurityExpires time.Time `json:"security_expires,omitzero"`
	// Docs is each document's state, by tracking ID.
	Docs map[string]*DocState `json:"docs"`

	// Stats describes the Build that made the manifest (not encoded).
	Stats Stats `json:"-"`
}

// Stats counts what a Build did.
type Stats struct {
	Documents int // documents in the tree
	Signed    int // documents (re)signed
	Dropped   int // documents no longer published
}

// DocState is one document's published state.
type DocState struct {
	Kind string `json:"kind"` // "advisory" or "vex"
	// Path is the document's path under /.well-known/csaf/; it never
	// moves once published.
	Path string `json:"path"`
	// Content is the sha256 of the document without its tracking: a new
	// value means a new version.
	Content string `json:"content"`
	// RecordSeq is the highest store sequence of the CVE's records (vex):
	// a new value means new history to read.
	RecordSeq int64 `json:"record_seq,omitempty"`
	// ChangeSeq and ChangeAt mark the last history change taken into the
	// revision history (vex).
	ChangeSeq int64      `json:"change_seq,omitempty"`
	ChangeAt  time.Time  `json:"change_at,omitzero"`
	Revisions []Revision `json:"revisions"`
}

// Revision is one entry of a document's revision history.
type Revision struct {
	Number  int       `json:"number"`
	Date    time.Time `json:"date"`
	Summary string    `json:"summary"`
}

const (
	manifestFormat = 1
	kindAdvisory   = "advisory"
	kindVEX        = "vex"
	pmdName        = "provider-metadata.json"
)

// docSuffixes are the files published beside each document.
var docSuffixes = []string{"", ".asc", ".sha256", ".sha512"}

// Encode serialises the manifest (JSON with sorted keys).
func (m *Manifest) Encode() ([]byte, error) { return json.Marshal(m) }

// DecodeManifest reads a manifest written by Encode.
func DecodeManifest(data []byte) (*Manifest, error) {
	var m Manifest
	if err := json.Unmarshal(data, &m); err != nil {
		return nil, fmt.Errorf("csaf: reading manifest: %w", err)
	}
	if m.Format != manifestFormat {
		return nil, fmt.Errorf("csaf: manifest format %d is not %d", m.Format, manifestFormat)
	}
	if m.Files == nil {
		m.Files = map[string]FileRef{}
	}
	if m.Docs == nil {
		m.Docs = map[string]*DocState{}
	}
	return &m, nil
}

// Sums lists every blob the manifest references, sorted, so a garbage
// collection keeps them.
func (m *Manifest) Sums() []string {
	seen := map[string]bool{}
	for _, f := range m.Files {
		seen[f.Sum] = true
	}
	if m.SecurityTxt != nil {
		seen[m.SecurityTxt.Sum] = true
	}
	return slices.Sorted(maps.Keys(seen))
}

// Build updates old (nil on the first run) to reflect snapshot sn. It
// renders every document, but signs and stores only those whose content
// changed since old (an advisory whose data changed; a CVE whose records,
// history or fixing advisories changed), or every one when the signing key
// changed, then rewrites the indexes and provider metadata. history reads
// a CVE's status changes (oldest first or in any order; nil for none); it
// is called only for new CVEs and CVEs whose records changed. put stores a
// file and returns its address (sha256 hex) and size; it is called from
// several goroutines at once. Build never changes old.
func Build(ctx context.Context, old *Manifest, sn *tracker.Snapshot,
	history func(ctx context.Context, cve string) ([]advisory.Change, error),
	signer Signer, opts Options,
	put func(ctx context.Context, data []byte) (FileRef, error)) (*Manifest, error) {
	opts, err := opts.check()
	if err != nil {
		return nil, err
	}
	if old == nil {
		old = &Manifest{Format: manifestFormat}
	}
	if old.Files == nil || old.Docs == nil {
		o := *old // a hand-made manifest; never write to the caller's
		o.Files = cmpOr(o.Files, map[string]FileRef{})
		o.Docs = cmpOr(o.Docs, map[string]*DocState{})
		old = &o
	}
	now := opts.Now().UTC().Truncate(time.Second)
	// Documents are signed and stored on every CPU while the next ones
	// are rendered: signing dominates a Build.
	eg, egctx := errgroup.WithContext(ctx)
	eg.SetLimit(runtime.NumCPU())
	b := &builder{
		ctx: egctx, old: old, sn: sn, history: history, opts: opts, now: now,
		resign: old.Fingerprint != opts.Fingerprint,
		g:      &gen{sn: sn, opts: opts, advPath: map[string]string{}},
		m: &Manifest{Format: manifestFormat, Seq: sn.Seq, Fingerprint: opts.Fingerprint,
			Files: map[string]FileRef{}, Docs: map[string]*DocState{}},
		paths:  map[string]string{},
		signer: signer, put: put, eg: eg,
	}
	err = b.advisories()
	if err == nil {
		err = b.vex()
	}
	if werr := eg.Wait(); err == nil {
		err = werr
	}
	if err != nil {
		return nil, err
	}
	// The group's context ends with Wait; the indexes are written after.
	b.ctx = ctx
	if err := b.indexes(put); err != nil {
		return nil, err
	}
	for id := range old.Docs {
		if b.m.Docs[id] == nil {
			b.m.Stats.Dropped++
		}
	}
	b.m.Stats.Documents = len(b.m.Docs)
	b.m.Stats.Signed = b.signed
	return b.m, nil
}

type builder struct {
	ctx     context.Context
	old     *Manifest
	sn      *tracker.Snapshot
	history func(ctx context.Context, cve string) ([]advisory.Change, error)
	opts    Options
	now     time.Time
	resign  bool
	g       *gen
	m       *Manifest
	paths   map[string]string // path → tracking ID, to refuse two documents on one path

	signer Signer
	put    func(context.Context, []byte) (FileRef, error)
	eg     *errgroup.Group
	mu     sync.Mutex // guards m.Files while documents are written
	signed int
}

func (b *builder) claim(path, id string) error {
	if other, ok := b.paths[path]; ok {
		return fmt.Errorf("csaf: %s and %s would both be published as %s", other, id, path)
	}
	b.paths[path] = id
	return nil
}

func (b *builder) advisories() error {
	advs := append([]advisory.Advisory(nil), b.sn.Released...)
	sort.Slice(advs, func(i, j int) bool { return advs[i].ID < advs[j].ID })
	// Paths first: a document links the others by URL.
	for _, a := range advs {
		if len(a.CVEs) == 0 {
			continue
		}
		if st := b.old.Docs[a.ID]; st != nil && st.Kind == kindAdvisory {
			b.g.advPath[a.ID] = st.Path
		} else {
			b.g.advPath[a.ID] = docPath(a.ID, a.Released)
		}
	}
	for _, a := range advs {
		path, ok := b.g.advPath[a.ID]
		if !ok {
			continue
		}
		doc, ok := b.g.advisoryDoc(a, path)
		if !ok {
			delete(b.g.advPath, a.ID)
			continue
		}
		if err := b.claim(path, a.ID); err != nil {
			return err
		}
		h, err := contentHash(doc)
		if err != nil {
			return err
		}
		prev := b.old.Docs[a.ID]
		if prev != nil && prev.Kind != kindAdvisory {
			prev = nil
		}
		st, changed := prev, false
		switch {
		case prev == nil:
			st, changed = &DocState{Kind: kindAdvisory, Path: path, Content: h}, true
			st.add(a.Released, "Initial release")
		case prev.Content != h:
			st, changed = prev.clone(), true
			st.Content = h
			st.add(b.now, "Updated advisory")
		}
		if err := b.doc(a.ID, changed, st, doc); err != nil {
			return err
		}
	}
	return nil
}

func (b *builder) vex() error {
	seen := map[string]bool{}
	var cves []string
	for _, r := range b.sn.Records {
		if !seen[r.CVE] {
			seen[r.CVE] = true
			cves = append(cves, r.CVE)
		}
	}
	sort.Slice(cves, func(i, j int) bool { return cveLess(cves[i], cves[j]) })
	for _, cve := range cves {
		if err := b.ctx.Err(); err != nil {
			return err
		}
		recs := b.sn.CVE(cve)
		if len(recs) == 0 {
			continue // only products the tracker no longer knows
		}
		var recSeq int64
		var first time.Time
		for _, r := range recs {
			recSeq = max(recSeq, r.Seq)
			if !r.Updated.IsZero() && (first.IsZero() || r.Updated.Before(first)) {
				first = r.Updated
			}
		}
		prev := b.old.Docs[cve]
		if prev != nil && prev.Kind != kindVEX {
			prev = nil
		}
		st, changed := prev, false
		if prev == nil {
			changes, err := b.changes(cve, nil)
			if err != nil {
				return err
			}
			st, changed = &DocState{Kind: kindVEX, RecordSeq: recSeq}, true
			b.addChanges(st, changes)
			if len(st.Revisions) == 0 {
				if first.IsZero() {
					first = b.now
				}
				st.add(first, "Initial release")
			}
			st.Path = docPath(cve, st.Revisions[0].Date)
		}
		if err := b.claim(st.Path, cve); err != nil {
			return err
		}
		doc := b.g.vexDoc(cve, recs, st.Path)
		h, err := contentHash(doc)
		if err != nil {
			return err
		}
		switch {
		case prev == nil:
			st.Content = h
		case prev.Content != h || prev.RecordSeq != recSeq:
			// The records or what they point at changed: take the new
			// history into the revision history, and note a change of
			// content that no history explains (an advisory updated, a
			// product renamed).
			changes, err := b.changes(cve, prev)
			if err != nil {
				return err
			}
			st = prev.clone()
			st.RecordSeq = recSeq
			b.addChanges(st, changes)
			if len(st.Revisions) == len(prev.Revisions) && prev.Content != h {
				st.add(b.now, "Updated")
			}
			st.Content = h
			// A record rewritten with nothing new for a reader keeps its
			// signed file.
			changed = len(st.Revisions) != len(prev.Revisions)
		}
		if err := b.doc(cve, changed, st, doc); err != nil {
			return err
		}
	}
	return nil
}

// changes reads a CVE's history newer than prev's, oldest first.
func (b *builder) changes(cve string, prev *DocState) ([]advisory.Change, error) {
	if b.history == nil {
		return nil, nil
	}
	all, err := b.history(b.ctx, cve)
	if err != nil {
		return nil, fmt.Errorf("csaf: reading the history of %s: %w", cve, err)
	}
	var out []advisory.Change
	for _, c := range all {
		if prev != nil {
			// The store numbers changes; a history without numbers (0)
			// is ordered by time.
			if c.Seq > 0 && c.Seq <= prev.ChangeSeq || c.Seq == 0 && !c.At.After(prev.ChangeAt) {
				continue
			}
		}
		out = append(out, c)
	}
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].Seq != out[j].Seq {
			return out[i].Seq < out[j].Seq
		}
		return out[i].At.Before(out[j].At)
	})
	return out, nil
}

// addChanges adds one revision per history change.
func (b *builder) addChanges(st *DocState, changes []advisory.Change) {
	for _, c := range changes {
		name := c.Product
		if p, ok := b.sn.Products[c.Product]; ok {
			name = productName(p)
		}
		s := fmt.Sprintf("%s: %s", name, c.To)
		if c.From != "" && c.From != c.To {
			s = fmt.Sprintf("%s: %s → %s", name, c.From, c.To)
		}
		if advisory.ValidID(c.Source) {
			s += " (" + c.Source + ")"
		}
		at := c.At
		if at.IsZero() {
			at = b.now
		}
		st.add(at, s)
		st.ChangeSeq = max(st.ChangeSeq, c.Seq)
		if c.At.After(st.ChangeAt) {
			st.ChangeAt = c.At
		}
	}
}

func (st *DocState) clone() *DocState {
	c := *st
	c.Revisions = append([]Revision(nil), st.Revisions...)
	return &c
}

// add appends a revision. Dates never go back, so the history stays
// sorted (CSAF mandatory test 6.1.14) even if a clock or an imported
// history does.
func (st *DocState) add(at time.Time, summary string) {
	at = at.UTC().Truncate(time.Second)
	if n := len(st.Revisions); n > 0 && at.Before(st.Revisions[n-1].Date) {
		at = st.Revisions[n-1].Date
	}
	st.Revisions = append(st.Revisions, Revision{Number: len(st.Revisions) + 1, Date: at, Summary: summary})
}

// doc records a document in the new manifest: its old files when its
// state is unchanged (and the key too), else a job to sign it.
func (b *builder) doc(id string, changed bool, st *DocState, doc *document) error {
	b.m.Docs[id] = st
	if !changed && !b.resign {
		refs := make([]FileRef, len(docSuffixes))
		ok := true
		for i, s := range docSuffixes {
			refs[i], ok = b.old.Files[st.Path+s]
			if !ok {
				break
			}
		}
		if ok {
			b.mu.Lock()
			for i, s := range docSuffixes {
				b.m.Files[st.Path+s] = refs[i]
			}
			b.mu.Unlock()
			return nil
		}
	}
	if b.signer == nil {
		return errors.New("csaf: documents changed and there is no signing key to sign them")
	}
	data, err := render(doc, id, st)
	if err != nil {
		return err
	}
	b.signed++
	b.eg.Go(func() error { return b.write(st.Path, data) })
	return nil
}

// contentHash is the sha256 of a document without its tracking.
func contentHash(doc *document) (string, error) {
	d := *doc
	d.Document.Tracking = tracking{}
	data, err := encode(&d)
	if err != nil {
		return "", err
	}
	return sum256(data), nil
}

// render writes a document with its tracking from st.
func render(doc *document, id string, st *DocState) ([]byte, error) {
	d := *doc
	revs := make([]revision, len(st.Revisions))
	for i, r := range st.Revisions {
		revs[i] = revision{Date: rfc3339(r.Date), Number: fmt.Sprint(r.Number), Summary: r.Summary}
	}
	last := st.Revisions[len(st.Revisions)-1]
	d.Document.Tracking = tracking{
		CurrentReleaseDate: rfc3339(last.Date),
		Generator:          &generator{Engine: engine{Name: engineName}},
		ID:                 id,
		InitialReleaseDate: rfc3339(st.Revisions[0].Date),
		RevisionHistory:    revs,
		Status:             "final",
		Version:            fmt.Sprint(last.Number),
	}
	return encode(&d)
}

// encode is indented JSON without HTML escaping, ending in a newline.
func encode(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

func sum256(data []byte) string {
	h := sha256.Sum256(data)
	return hex.EncodeToString(h[:])
}

// write signs and stores a document with its signature and checksums.
func (b *builder) write(path string, data []byte) error {
	if err := b.ctx.Err(); err != nil {
		return err
	}
	sig, err := b.signer.DetachSignArmored(bytes.NewReader(data))
	if err != nil {
		return fmt.Errorf("csaf: signing %s: %w", path, err)
	}
	name := path[strings.LastIndexByte(path, '/')+1:]
	s256 := sha256.Sum256(data)
	s512 := sha512.Sum512(data)
	files := [][]byte{
		data,
		sig,
		[]byte(hex.EncodeToString(s256[:]) + "  " + name + "\n"),
		[]byte(hex.EncodeToString(s512[:]) + "  " + name + "\n"),
	}
	refs := make([]FileRef, len(files))
	for k, f := range files {
		if refs[k], err = putChecked(b.ctx, b.put, f); err != nil {
			return fmt.Errorf("csaf: storing %s%s: %w", path, docSuffixes[k], err)
		}
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	for k, s := range docSuffixes {
		b.m.Files[path+s] = refs[k]
	}
	return nil
}

func cmpOr[M ~map[K]V, K comparable, V any](m, def M) M {
	if m == nil {
		return def
	}
	return m
}

// putChecked puts a file and checks that put named it by its sha256, which the
// handler's ETags and the incremental build rely on.
func putChecked(ctx context.Context, put func(context.Context, []byte) (FileRef, error), data []byte) (FileRef, error) {
	ref, err := put(ctx, data)
	if err != nil {
		return FileRef{}, err
	}
	if want := sum256(data); ref.Sum != want || ref.Size != int64(len(data)) {
		return FileRef{}, fmt.Errorf("put returned %s (%d bytes), want the sha256 %s (%d bytes)", ref.Sum, ref.Size, want, len(data))
	}
	return ref, nil
}

// putFile stores an index file unless the old manifest has it already.
func (b *builder) putFile(put func(context.Context, []byte) (FileRef, error), path string, data []byte) error {
	if ref, ok := b.old.Files[path]; ok && ref.Sum == sum256(data) && ref.Size == int64(len(data)) {
		b.m.Files[path] = ref
		return nil
	}
	ref, err := putChecked(b.ctx, put, data)
	if err != nil {
		return fmt.Errorf("csaf: storing %s: %w", path, err)
	}
	b.m.Files[path] = ref
	return nil
}

type providerMetadata struct {
	CanonicalURL            string    `json:"canonical_url"`
	Distributions           []pmdDist `json:"distributions"`
	LastUpdated             string    `json:"last_updated"`
	ListOnCSAFAggregators   bool      `json:"list_on_CSAF_aggregators"`
	MetadataVersion         string    `json:"metadata_version"`
	MirrorOnCSAFAggregators bool      `json:"mirror_on_CSAF_aggregators"`
	PublicOpenPGPKeys       []pmdKey  `json:"public_openpgp_keys,omitempty"`
	Publisher               publisher `json:"publisher"`
	Role                    string    `json:"role"`
}

type pmdDist struct {
	DirectoryURL string `json:"directory_url"`
}

type pmdKey struct {
	Fingerprint string `json:"fingerprint"`
	URL         string `json:"url"`
}

// indexes writes index.txt, changes.csv, the public key,
// provider-metadata.json and security.txt.
func (b *builder) indexes(put func(context.Context, []byte) (FileRef, error)) error {
	type entry struct {
		rel     string
		current time.Time
	}
	var entries []entry
	for _, st := range b.m.Docs {
		entries = append(entries, entry{rel: strings.TrimPrefix(st.Path, whiteDir), current: st.Revisions[len(st.Revisions)-1].Date})
	}
	sort.Slice(entries, func(i, j int) bool { return entries[i].rel < entries[j].rel })
	var index bytes.Buffer
	for _, e := range entries {
		index.WriteString(e.rel + "\n")
	}
	// changes.csv: newest change first (the checker requires descending
	// order), paths breaking ties so the file is deterministic.
	sort.SliceStable(entries, func(i, j int) bool { return entries[i].current.After(entries[j].current) })
	var changes bytes.Buffer
	for _, e := range entries {
		fmt.Fprintf(&changes, "%q,%q\n", e.rel, rfc3339(e.current))
	}
	if err := b.putFile(put, whiteDir+"index.txt", index.Bytes()); err != nil {
		return err
	}
	if err := b.putFile(put, whiteDir+"changes.csv", changes.Bytes()); err != nil {
		return err
	}

	pmd := providerMetadata{
		CanonicalURL:            b.g.url(pmdName),
		Distributions:           []pmdDist{{DirectoryURL: b.g.url(whiteDir)}},
		ListOnCSAFAggregators:   !b.opts.Unlisted,
		MetadataVersion:         "2.0",
		MirrorOnCSAFAggregators: !b.opts.NoMirror,
		Publisher: publisher{Category: "vendor", ContactDetails: b.opts.ContactDetails,
			Name: b.opts.Publisher, Namespace: b.opts.Namespace},
		Role: "csaf_provider",
	}
	if len(b.opts.PublicKeyArmored) > 0 {
		keyPath := "openpgp/" + strings.ToUpper(b.opts.Fingerprint) + ".asc"
		if err := b.putFile(put, keyPath, b.opts.PublicKeyArmored); err != nil {
			return err
		}
		pmd.PublicOpenPGPKeys = []pmdKey{{Fingerprint: strings.ToUpper(b.opts.Fingerprint), URL: b.g.url(keyPath)}}
	}
	meta, err := encode(pmd)
	if err != nil {
		return err
	}
	b.m.Meta = sum256(meta)
	// last_updated moves only when something a reader sees changed, so
	// an unchanged tracker gives a byte-identical tree.
	b.m.Updated = b.old.Updated
	if b.m.Updated.IsZero() || b.m.Meta != b.old.Meta || b.signed > 0 || len(b.m.Docs) != len(b.old.Docs) {
		b.m.Updated = b.now
	}
	pmd.LastUpdated = rfc3339(b.m.Updated)
	data, err := encode(pmd)
	if err != nil {
		return err
	}
	if err := b.putFile(put, pmdName, data); err != nil {
		return err
	}

	// security.txt (RFC 9116) must expire within a year; it is renewed
	// when less than 11 months are left.
	b.m.SecurityExpires = b.old.SecurityExpires
	if b.m.SecurityExpires.Before(b.now.AddDate(0, 11, 0)) {
		b.m.SecurityExpires = b.now.AddDate(1, 0, 0)
	}
	txt := b.securityTxt()
	ref := FileRef{Sum: sum256(txt), Size: int64(len(txt))}
	if b.old.SecurityTxt != nil && *b.old.SecurityTxt == ref {
		b.m.SecurityTxt = b.old.SecurityTxt
	} else {
		ref, err := putChecked(b.ctx, put, txt)
		if err != nil {
			return fmt.Errorf("csaf: storing security.txt: %w", err)
		}
		b.m.SecurityTxt = &ref
	}
	return nil
}

func (b *builder) securityTxt() []byte {
	var s strings.Builder
	s.WriteString("# " + b.opts.Publisher + ": security contact and CSAF provider metadata.\n")
	if c := contactURI(b.opts.ContactDetails); c != "" {
		s.WriteString("Contact: " + c + "\n")
	}
	s.WriteString("Expires: " + rfc3339(b.m.SecurityExpires) + "\n")
	s.WriteString("Canonical: " + b.opts.PublicURL + "/.well-known/security.txt\n")
	s.WriteString("CSAF: " + b.g.url(pmdName) + "\n")
	return []byte(s.String())
}

// contactURI turns the contact details into a security.txt Contact URI
// when they are one: an e-mail address, a URL, or a tel: URI.
func contactURI(c string) string {
	c = strings.TrimSpace(c)
	switch {
	case strings.HasPrefix(c, "https://"), strings.HasPrefix(c, "mailto:"), strings.HasPrefix(c, "tel:"):
		return c
	case strings.Count(c, "@") == 1 && !strings.ContainsAny(c, " \t<>"):
		return "mailto:" + c
	}
	return ""
}
