// Package sbomapi serves package SBOMs to hosts over mutual TLS: one
// package's SBOM in any format, and a batch call that takes a host's
// installed packages and returns every matching SBOM in one round trip. A
// request is allowed by a client certificate of enmei's CA whose serial is
// the contract's and not revoked, and by the contract's validity at that
// moment — so an expired contract is refused although its certificate is
// valid, and a renewal makes it work again with nothing changed on the host.
// Documents are made from the facts kept with each package at publish and
// the packages of the current publication, so they are the same bytes on
// every request and every replica.
package sbomapi

import (
	"cmp"
	"context"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/hashicorp/golang-lru/v2/expirable"
	"golang.org/x/sync/singleflight"

	"github.com/enmei-project/enmei/internal/api"
	"github.com/enmei-project/enmei/internal/bundle"
	"github.com/enmei-project/enmei/internal/entitle"
	"github.com/enmei-project/enmei/internal/errs"
	"github.com/enmei-project/enmei/internal/manifest"
	"github.com/enmei-project/enmei/internal/pkgfacts"
	"github.com/enmei-project/enmei/internal/sbom"
	"github.com/enmei-project/enmei/internal/store"
)

// Store is what the SBOM API reads.
type Store interface {
	Certificate(ctx context.Context, serial string) (store.Certificate, error)
	Contract(ctx context.Context, supportID string) (store.Contract, error)
	Product(ctx context.Context, id string) (store.Product, error)
	Repos(ctx context.Context, productID string) ([]store.Repo, error)
	Publication(ctx context.Context, id int64) (store.Publication, error)
	PackageFacts(ctx context.Context, ids []string) (map[string][]byte, error)
	Setting(ctx context.Context, name string) ([]byte, error)
}

// Verifier checks a client certificate against the CA and returns the
// support ID it names (errs.Forbidden when it does not verify).
type Verifier func(ctx context.Context, cert *x509.Certificate, now time.Time) (string, error)

// Config holds the API's dependencies.
type Config struct {
	Store   Store
	Blobs   manifest.Opener
	Verify  Verifier
	Now     func() time.Time
	Log     *slog.Logger
	Vendor  string // supplier and author of the documents
	Tool    string // e.g. "enmei-1.2.3"
	BaseURL string // the public URL: document namespaces start with it
}

// API serves the SBOM routes.
type API struct {
	cfg   Config
	sets  *expirable.LRU[int64, *sbom.Set] // publication ID → its packages
	loads singleflight.Group
}

// New makes the API.
func New(cfg Config) *API {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	// Publications never change, so a set is good until evicted.
	return &API{cfg: cfg, sets: expirable.NewLRU[int64, *sbom.Set](16, nil, time.Hour)}
}

// Register adds the routes with handle.
func (a *API) Register(handle func(pattern string, h http.Handler)) {
	handle("GET /api/v1/sbom/packages/{name}/{evr}/{arch}", http.HandlerFunc(a.one))
	handle("POST /api/v1/sbom/batch", http.HandlerFunc(a.batch))
}

// Authenticate is the check every SBOM request makes, for the portal's
// pages too: the request's client certificate must be the contract's
// current, unrevoked one, and the contract in force now.
func (a *API) Authenticate(r *http.Request) (store.Contract, error) { return a.client(r) }

// client authenticates the request's certificate and returns its contract.
func (a *API) client(r *http.Request) (store.Contract, error) {
	if r.TLS == nil || len(r.TLS.PeerCertificates) == 0 {
		return store.Contract{}, errs.E(errs.Unauthorized, "this needs the contract's client certificate over HTTPS: import it with enmei cert import")
	}
	ctx, now := r.Context(), a.cfg.Now()
	leaf := r.TLS.PeerCertificates[0]
	sid, err := a.cfg.Verify(ctx, leaf, now)
	if err != nil {
		return store.Contract{}, err
	}
	cert, err := a.cfg.Store.Certificate(ctx, leaf.SerialNumber.Text(16))
	if errs.Is(err, errs.NotFound) {
		return store.Contract{}, errs.E(errs.Forbidden, "this client certificate is not one the vendor issued: ask for a new one")
	}
	if err != nil {
		return store.Contract{}, err
	}
	if !cert.RevokedAt.IsZero() {
		return store.Contract{}, errs.E(errs.Forbidden, "the client certificate %s was revoked on %s (%s): ask the vendor for a new one",
			cert.Serial, cert.RevokedAt.In(entitle.Tokyo).Format(entitle.DateLayout), cert.RevokeReason)
	}
	if cert.SupportID != sid {
		return store.Contract{}, errs.E(errs.Forbidden, "the client certificate does not belong to contract %s", sid)
	}
	c, err := a.cfg.Store.Contract(ctx, sid)
	if err != nil {
		return c, err
	}
	return c, entitle.CheckValid(c, now)
}

// PackageRef names an installed package as the host's database does.
type PackageRef struct {
	Name string `json:"name"`
	EVR  string `json:"evr"` // [epoch:]version-release (rpm) or [epoch:]version (deb)
	Arch string `json:"arch"`
}

// BatchRequest asks for the SBOMs of a host's packages.
type BatchRequest struct {
	Format   string       `json:"format"`
	Packages []PackageRef `json:"packages"`
}

// BatchResponse carries the documents found and names the packages the
// vendor does not publish.
type BatchResponse struct {
	Format  string       `json:"format"`
	SBOMs   []Found      `json:"sboms"`
	Missing []PackageRef `json:"missing"`
}

// Found is one package's SBOM.
type Found struct {
	PackageRef
	Product  string `json:"product"`
	Supplier string `json:"supplier"` // the vendor
	SHA256   string `json:"sha256"`   // of the package file
	Document string `json:"document"` // the SBOM in the asked format
}

// MaxBatch bounds one batch call; a host with more packages asks in parts.
const MaxBatch = 5000

func (a *API) one(w http.ResponseWriter, r *http.Request) {
	c, err := a.client(r)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	f, err := sbom.ParseFormat(cmp.Or(r.URL.Query().Get("format"), string(sbom.SPDXJSON)))
	if err != nil {
		a.fail(w, r, errs.E(errs.Invalid, "%v", err))
		return
	}
	ref := PackageRef{Name: r.PathValue("name"), EVR: r.PathValue("evr"), Arch: r.PathValue("arch")}
	found, err := a.Document(r.Context(), c, ref, f)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	WriteDocument(w, found, f)
}

// WriteDocument answers with one package's SBOM as a file download.
func WriteDocument(w http.ResponseWriter, found Found, f sbom.Format) {
	w.Header().Set("Content-Type", f.ContentType())
	w.Header().Set("Content-Disposition", mime.FormatMediaType("attachment", map[string]string{"filename": FileName(found.PackageRef, f)}))
	io.WriteString(w, found.Document)
}

// FileName is the name a downloaded SBOM gets: name-evr.arch plus the
// format's extension, the epoch's colon written as "_".
func FileName(ref PackageRef, f sbom.Format) string {
	return fmt.Sprintf("%s-%s.%s%s", ref.Name, strings.ReplaceAll(ref.EVR, ":", "_"), ref.Arch, f.Ext())
}

func (a *API) batch(w http.ResponseWriter, r *http.Request) {
	c, err := a.client(r)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	var req BatchRequest
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 8<<20))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		a.fail(w, r, errs.E(errs.Invalid, "the batch request is not valid JSON: %v", err))
		return
	}
	if len(req.Packages) > MaxBatch {
		a.fail(w, r, errs.E(errs.Invalid, "at most %d packages per batch, not %d", MaxBatch, len(req.Packages)))
		return
	}
	f, err := sbom.ParseFormat(cmp.Or(req.Format, string(sbom.SPDXJSON)))
	if err != nil {
		a.fail(w, r, errs.E(errs.Invalid, "%v", err))
		return
	}
	found, err := a.find(r.Context(), c, req.Packages, f)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	resp := BatchResponse{Format: string(f), SBOMs: found, Missing: []PackageRef{}}
	have := map[PackageRef]bool{}
	for _, s := range found {
		have[s.PackageRef] = true
	}
	for _, p := range req.Packages {
		if !have[p] {
			resp.Missing = append(resp.Missing, p)
		}
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(resp)
}

// find returns the SBOMs of the refs the contract's products publish, in
// the order asked; a package found in several repositories is given once.
func (a *API) find(ctx context.Context, c store.Contract, refs []PackageRef, f sbom.Format) ([]Found, error) {
	type source struct {
		set     *sbom.Set
		meta    sbom.Meta
		product string
	}
	var sources []source
	for _, pid := range c.Products {
		prod, err := a.cfg.Store.Product(ctx, pid)
		if err != nil {
			return nil, err
		}
		repos, err := a.cfg.Store.Repos(ctx, pid)
		if err != nil {
			return nil, err
		}
		distro := sbom.Distro{ID: prod.OSID, VersionID: prod.OSVersion}
		if distro.ID == "" {
			distro.ID = prod.ID
		}
		for _, repo := range repos {
			if repo.Current == 0 {
				continue
			}
			set, pub, err := a.set(ctx, repo.Current)
			if err != nil {
				return nil, err
			}
			sources = append(sources, source{set: set, product: pid, meta: sbom.Meta{Distro: distro, Supplier: a.cfg.Vendor, Author: a.cfg.Vendor,
				Tool: a.cfg.Tool, BaseURL: a.cfg.BaseURL, Salt: strconv.FormatInt(pub.ID, 10), Created: pub.CreatedAt}})
		}
	}
	var out []Found
	seen := map[PackageRef]bool{}
	for _, ref := range refs {
		if seen[ref] {
			continue
		}
		for _, s := range sources {
			i, ok := s.set.Find(ref.Name, ref.EVR, ref.Arch)
			if !ok {
				continue
			}
			var buf strings.Builder
			if err := sbom.Write(&buf, s.set.Document(i, s.meta), f); err != nil {
				return nil, fmt.Errorf("SBOM of %s: %w", s.set.ID(i), err)
			}
			out = append(out, Found{PackageRef: ref, Product: s.product, Supplier: a.cfg.Vendor, SHA256: s.set.Facts(i).SHA256, Document: buf.String()})
			seen[ref] = true
			break
		}
	}
	return out, nil
}

// set returns the packages of a publication, loaded once.
func (a *API) set(ctx context.Context, pubID int64) (*sbom.Set, store.Publication, error) {
	pub, err := a.cfg.Store.Publication(ctx, pubID)
	if err != nil {
		return nil, pub, err
	}
	if s, ok := a.sets.Get(pubID); ok {
		return s, pub, nil
	}
	v, err, _ := a.loads.Do(strconv.FormatInt(pubID, 10), func() (any, error) {
		s, err := LoadSet(ctx, a.cfg.Store, a.cfg.Blobs, pub)
		if err == nil {
			a.sets.Add(pubID, s)
		}
		return s, err
	})
	if err != nil {
		return nil, pub, fmt.Errorf("loading the SBOMs of publication %d: %w", pubID, err)
	}
	return v.(*sbom.Set), pub, nil
}

// FactsStore reads the SBOM facts kept with packages.
type FactsStore interface {
	PackageFacts(ctx context.Context, ids []string) (map[string][]byte, error)
}

// LoadSet reads a publication's packages and their SBOM facts. Packages
// published before SBOMs existed have no facts and are left out (publish
// them again with --replace to add them).
func LoadSet(ctx context.Context, st FactsStore, blobs manifest.Opener, pub store.Publication) (*sbom.Set, error) {
	m, err := manifest.Load(ctx, blobs, pub.Manifest)
	if err != nil {
		return nil, err
	}
	raw, err := st.PackageFacts(ctx, m.Packages)
	if err != nil {
		return nil, err
	}
	ids := make([]string, 0, len(m.Packages))
	facts := make([]pkgfacts.Facts, 0, len(m.Packages))
	for _, id := range m.Packages {
		b, ok := raw[id]
		if !ok {
			continue
		}
		f, err := pkgfacts.Decode(b)
		if err != nil {
			return nil, fmt.Errorf("package %s: %w", id, err)
		}
		ids = append(ids, id)
		facts = append(facts, f)
	}
	return sbom.NewSet(ids, facts), nil
}

func (a *API) fail(w http.ResponseWriter, r *http.Request, err error) {
	status, kind := api.StatusOf(err)
	msg := err.Error()
	var de *errs.Error
	if errors.As(err, &de) {
		msg = de.Error()
	}
	if status == http.StatusInternalServerError {
		a.cfg.Log.Error("SBOM request failed", "path", r.URL.Path, "err", err)
		msg = api.InternalMessage
	}
	api.WriteError(w, r, status, kind, msg)
}

// RepoPackages is one repository of a contract's products as the portal
// lists it: the packages of its current publication, and the companion disk
// it offers, if any.
type RepoPackages struct {
	Repo        string
	Product     string
	Publication int64
	Packages    []PackageRef // sorted by name, then EVR and arch
	Disk        *bundle.Offered
}

// Catalog lists the repositories of c's products with their current
// packages.
func (a *API) Catalog(ctx context.Context, c store.Contract) ([]RepoPackages, error) {
	var out []RepoPackages
	for _, pid := range c.Products {
		repos, err := a.cfg.Store.Repos(ctx, pid)
		if err != nil {
			return nil, err
		}
		for _, repo := range repos {
			rp := RepoPackages{Repo: repo.ID, Product: pid, Publication: repo.Current}
			if repo.Current != 0 {
				set, _, err := a.set(ctx, repo.Current)
				if err != nil {
					return nil, err
				}
				for i := 0; i < set.Len(); i++ {
					f := set.Facts(i)
					rp.Packages = append(rp.Packages, PackageRef{Name: f.Name, EVR: f.EVR(), Arch: f.Arch})
				}
				slices.SortFunc(rp.Packages, func(x, y PackageRef) int {
					return cmp.Or(cmp.Compare(x.Name, y.Name), cmp.Compare(x.EVR, y.EVR), cmp.Compare(x.Arch, y.Arch))
				})
			}
			if d, err := a.disk(ctx, repo.ID); err == nil {
				if offeredTo(c, d) {
					rp.Disk = &d
				}
			} else if !errs.Is(err, errs.NotFound) {
				return nil, err
			}
			out = append(out, rp)
		}
	}
	return out, nil
}

// Document returns one package's SBOM in format f, if c's products
// publish the package (errs.NotFound otherwise).
func (a *API) Document(ctx context.Context, c store.Contract, ref PackageRef, f sbom.Format) (Found, error) {
	found, err := a.find(ctx, c, []PackageRef{ref}, f)
	if err != nil {
		return Found{}, err
	}
	if len(found) == 0 {
		return Found{}, errs.E(errs.NotFound, "the vendor publishes no package %s-%s.%s for this contract", ref.Name, ref.EVR, ref.Arch)
	}
	return found[0], nil
}

// Disk opens the companion disk repository repoID offers, if the
// repository belongs to one of c's products (errs.NotFound otherwise, so
// other contracts' repositories are not revealed).
func (a *API) Disk(ctx context.Context, c store.Contract, repoID string) (bundle.Offered, io.ReadSeekCloser, error) {
	for _, pid := range c.Products {
		repos, err := a.cfg.Store.Repos(ctx, pid)
		if err != nil {
			return bundle.Offered{}, nil, err
		}
		for _, repo := range repos {
			if repo.ID != repoID {
				continue
			}
			d, err := a.disk(ctx, repoID)
			if err != nil {
				return d, nil, err
			}
			if !offeredTo(c, d) {
				return bundle.Offered{}, nil, errs.E(errs.Forbidden, "the companion disk of %s carries the packages, which contract %s may not take offline (an individual contract term): ask the vendor to allow offline use", repoID, c.SupportID)
			}
			rc, _, err := a.cfg.Blobs.Open(ctx, d.SHA256)
			if err != nil {
				return d, nil, fmt.Errorf("opening the companion disk of %s: %w", repoID, err)
			}
			return d, rc, nil
		}
	}
	return bundle.Offered{}, nil, errs.E(errs.NotFound, "no companion disk %s for this contract", repoID)
}

// offeredTo reports whether contract c may download disk d: a disk that
// carries the packages goes only to contracts allowed offline use.
func offeredTo(c store.Contract, d bundle.Offered) bool {
	return !d.WithPackages || c.AllowOffline
}

func (a *API) disk(ctx context.Context, repoID string) (bundle.Offered, error) {
	raw, err := a.cfg.Store.Setting(ctx, bundle.OfferSetting(repoID))
	if err != nil {
		return bundle.Offered{}, err
	}
	return bundle.DecodeOffered(raw)
}
