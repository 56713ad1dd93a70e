package mavenrepo

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"log/slog"
	"net/http"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/hashicorp/golang-lru/v2/expirable"
	"golang.org/x/sync/singleflight"
	"golang.org/x/time/rate"

	"github.com/enmei-project/enmei/internal/account"
	"github.com/enmei-project/enmei/internal/api"
	"github.com/enmei-project/enmei/internal/blob"
	"github.com/enmei-project/enmei/internal/entitle"
	"github.com/enmei-project/enmei/internal/errs"
	"github.com/enmei-project/enmei/internal/manifest"
	"github.com/enmei-project/enmei/internal/maven"
	"github.com/enmei-project/enmei/internal/store"
)

// ReadStore is what serving reads.
type ReadStore interface {
	Product(ctx context.Context, id string) (store.Product, error)
	Repo(ctx context.Context, id string) (store.Repo, error)
	Publication(ctx context.Context, id int64) (store.Publication, error)
	Contract(ctx context.Context, supportID string) (store.Contract, error)
	DeveloperAccount(ctx context.Context, name string) (store.DeveloperAccount, error)
	TokenByHash(ctx context.Context, hash []byte) (store.APIToken, error)
}

// Listing is a directory page's content; ListingEntry one of its lines.
type Listing struct {
	Product, ProductName, Path string
	Entries                    []ListingEntry
}

// ListingEntry is a file or directory of a Listing.
type ListingEntry struct {
	Name     string
	Dir      bool
	Size     int64
	SHA256   string
	Modified time.Time
}

// Config holds a Handler's dependencies.
type Config struct {
	Store     ReadStore
	Blobs     blob.Store
	Publisher *Publisher // nil: uploads refused
	Now       func() time.Time
	Log       *slog.Logger
	// Session returns the developer account a browser signed in as at
	// /developer/ (nil: Basic only).
	Session func(r *http.Request) (string, bool)
	// RenderListing writes a directory page (nil: a plain text list).
	RenderListing func(w http.ResponseWriter, r *http.Request, l Listing)
	// ClientAddr is a request's client IP, for limiting failed logins.
	ClientAddr func(r *http.Request) string
	// CacheTTL bounds how long an account's facts (password hash,
	// contract) are reused (default 5 s); VerifiedTTL how long a verified
	// password is (default 10 min, and never past a password change).
	CacheTTL    time.Duration
	VerifiedTTL time.Duration
	// MaxUpload bounds one PUT (default 4 GiB).
	MaxUpload int64
}

// Handler serves /maven/{product}/{path...}.
type Handler struct {
	cfg       Config
	manifests *manifest.Cache
	accounts  *expirable.LRU[string, accountEntry]
	loads     singleflight.Group
	verified  *expirable.LRU[string, verifiedEntry]
	macKey    []byte
	argon     chan struct{} // bounds concurrent argon2id verifications
	failures  *expirable.LRU[string, *rate.Limiter]
}

type accountEntry struct {
	acct     store.DeveloperAccount
	contract store.Contract
	err      error
	at       time.Time
}

// verifiedEntry remembers that a password matched a stored hash: an HMAC
// of the password under a key that lives only in this process, never the
// password itself.
type verifiedEntry struct {
	hash string // the PHC string it matched; a changed password misses
	mac  []byte
}

// NewHandler returns a handler.
func NewHandler(cfg Config) *Handler {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	if cfg.CacheTTL == 0 {
		cfg.CacheTTL = 5 * time.Second
	}
	if cfg.VerifiedTTL == 0 {
		cfg.VerifiedTTL = 10 * time.Minute
	}
	if cfg.MaxUpload == 0 {
		cfg.MaxUpload = 4 << 30
	}
	if cfg.ClientAddr == nil {
		cfg.ClientAddr = func(r *http.Request) string { return r.RemoteAddr }
	}
	key := make([]byte, 32)
	rand.Read(key)
	return &Handler{
		cfg:       cfg,
		manifests: manifest.NewCache(cfg.Blobs, 32),
		accounts:  expirable.NewLRU[string, accountEntry](10000, nil, cfg.CacheTTL),
		verified:  expirable.NewLRU[string, verifiedEntry](10000, nil, cfg.VerifiedTTL),
		macKey:    key,
		argon:     make(chan struct{}, max(1, runtime.NumCPU()/2)),
		failures:  expirable.NewLRU[string, *rate.Limiter](20000, nil, 10*time.Minute),
	}
}

// Register adds the handler's routes.
func (h *Handler) Register(handle func(pattern string, h http.Handler)) {
	handle("GET /maven/{product}/{path...}", http.HandlerFunc(h.get))
	handle("HEAD /maven/{product}/{path...}", http.HandlerFunc(h.get))
	handle("PUT /maven/{product}/{path...}", http.HandlerFunc(h.put))
	handle("GET /maven/{product}", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, r.URL.Path+"/", http.StatusMovedPermanently)
	}))
}

// PasswordChanged drops what this process remembers of an account, so
// its old password stops working at once.
func (h *Handler) PasswordChanged(name string) {
	h.accounts.Remove(name)
	h.verified.Remove(name)
}

// Purge drops everything this process remembers of accounts: another
// process changed a password.
func (h *Handler) Purge() {
	h.accounts.Purge()
	h.verified.Purge()
}

// principal is who a request authenticated as.
type principal struct {
	name  string
	token bool // an admin API token (else the developer account)
	write bool
}

// errBadLogin is the one answer to a wrong account name or password.
var errBadLogin = errs.E(errs.Unauthorized, "the account or password is wrong: use the developer account and password from the support certificate (or the one set at /developer/)")

// authenticate checks the request's credentials, and the live contract
// for product unless the caller is an admin token.
func (h *Handler) authenticate(r *http.Request, product string) (principal, error) {
	user, pass, ok := r.BasicAuth()
	if !ok {
		if h.cfg.Session != nil {
			if name, ok := h.cfg.Session(r); ok {
				e := h.accountFacts(r.Context(), name)
				if e.err != nil {
					return principal{}, errBadLogin
				}
				return principal{name: name}, h.entitled(e, product)
			}
		}
		return principal{}, errs.E(errs.Unauthorized, "this repository needs the developer account of a developer-plan contract: configure it in Maven's settings.xml, or log in at /developer/")
	}
	if len(user) > 256 || len(pass) > 1024 {
		return principal{}, errBadLogin
	}
	if account.LooksLikeToken(pass) {
		tok, err := h.cfg.Store.TokenByHash(r.Context(), account.HashToken(pass))
		if err != nil || subtle.ConstantTimeCompare([]byte(tok.Name), []byte(user)) != 1 {
			return principal{}, h.failed(r, errBadLogin)
		}
		return principal{name: tok.Name, token: true, write: account.CanChange(tok.Role)}, nil
	}
	e := h.accountFacts(r.Context(), user)
	if e.err != nil && !errs.Is(e.err, errs.NotFound) {
		return principal{}, e.err
	}
	if !h.verify(r, user, e.acct.PasswordHash, pass) || e.err != nil {
		return principal{}, h.failed(r, errBadLogin)
	}
	return principal{name: user}, h.entitled(e, product)
}

// entitled checks the account's contract now: valid, and covering product.
func (h *Handler) entitled(e accountEntry, product string) error {
	if err := entitle.CheckValid(e.contract, h.cfg.Now()); err != nil {
		return errs.E(errs.Forbidden, "%s", err.Error())
	}
	if !slices.Contains(e.contract.Products, product) {
		return errs.E(errs.Forbidden, "contract %s does not include product %s", e.contract.SupportID, product)
	}
	return nil
}

// verify checks a password against an account's stored hash: from the
// verified-credential cache when this password matched this very hash
// before, else with argon2id (at most a few at a time, so a burst of
// logins cannot take every core).
func (h *Handler) verify(r *http.Request, name, hash, pass string) bool {
	mac := hmac.New(sha256.New, h.macKey)
	mac.Write([]byte(name + "\x00" + pass))
	sum := mac.Sum(nil)
	if v, ok := h.verified.Get(name); ok && hash != "" && v.hash == hash && hmac.Equal(v.mac, sum) {
		return true
	}
	if lim, ok := h.failures.Get(h.cfg.ClientAddr(r)); ok && lim.Tokens() < 1 {
		return false // too many failures from here: spend no argon2 time on it
	}
	select {
	case h.argon <- struct{}{}:
	case <-r.Context().Done():
		return false
	}
	ok := account.VerifyPassword(hash, pass)
	<-h.argon
	if ok {
		h.verified.Add(name, verifiedEntry{hash: hash, mac: sum})
	}
	return ok
}

// failed counts a failed login from the request's address.
func (h *Handler) failed(r *http.Request, err error) error {
	addr := h.cfg.ClientAddr(r)
	lim, ok := h.failures.Get(addr)
	if !ok {
		lim = rate.NewLimiter(rate.Every(6*time.Second), 20)
		h.failures.Add(addr, lim)
	}
	lim.Allow()
	return err
}

// accountFacts returns an account and its contract, from the cache when
// fresh; concurrent misses share one load.
func (h *Handler) accountFacts(ctx context.Context, name string) accountEntry {
	now := h.cfg.Now()
	if e, ok := h.accounts.Get(name); ok && now.Sub(e.at) < h.cfg.CacheTTL && now.Sub(e.at) >= 0 {
		return e
	}
	v, _, _ := h.loads.Do(name, func() (any, error) {
		ctx := context.WithoutCancel(ctx)
		e := accountEntry{at: now}
		e.acct, e.err = h.cfg.Store.DeveloperAccount(ctx, name)
		if e.err == nil {
			e.contract, e.err = h.cfg.Store.Contract(ctx, e.acct.SupportID)
		}
		if e.err == nil || errs.Is(e.err, errs.NotFound) {
			h.accounts.Add(name, e)
		}
		return e, nil
	})
	return v.(accountEntry)
}

// current returns a product's repository manifest (nil before the first
// publish).
func (h *Handler) current(ctx context.Context, product string) (*manifest.Manifest, store.Publication, error) {
	repo, err := h.cfg.Store.Repo(ctx, product)
	if errs.Is(err, errs.NotFound) || (err == nil && repo.Current == 0) {
		return nil, store.Publication{}, nil
	}
	if err != nil {
		return nil, store.Publication{}, err
	}
	pub, err := h.cfg.Store.Publication(ctx, repo.Current)
	if err != nil {
		return nil, pub, err
	}
	m, err := h.manifests.Get(ctx, pub.Manifest)
	return m, pub, err
}

func (h *Handler) get(w http.ResponseWriter, r *http.Request) {
	product, rel := r.PathValue("product"), r.PathValue("path")
	prod, err := h.cfg.Store.Product(r.Context(), product)
	if err != nil || prod.Format != "maven" {
		h.fail(w, r, errs.E(errs.NotFound, "no Maven repository %q here: check the product ID in the URL", product))
		return
	}
	if _, err := h.authenticate(r, product); err != nil {
		h.fail(w, r, err)
		return
	}
	m, pub, err := h.current(r.Context(), product)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	if m == nil {
		m = &manifest.Manifest{}
	}
	if rel == "" || strings.HasSuffix(rel, "/") {
		h.listing(w, r, prod, rel, m, pub)
		return
	}
	if strings.Contains(rel, "..") || strings.Contains(rel, "//") || strings.ContainsAny(rel, "\\\x00") {
		h.fail(w, r, errs.E(errs.NotFound, "no file %q in %s", rel, product))
		return
	}
	ref, ok := m.Files[rel]
	if !ok {
		if isDir(m, rel+"/") {
			http.Redirect(w, r, r.URL.Path+"/", http.StatusMovedPermanently)
			return
		}
		h.fail(w, r, errs.E(errs.NotFound, "no file %q in %s", rel, product))
		return
	}
	f, _, err := h.cfg.Blobs.Open(r.Context(), ref.Sum)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	defer f.Close()
	w.Header().Set("ETag", `"`+ref.Sum+`"`)
	w.Header().Set("Content-Type", contentType(rel))
	w.Header().Set("X-Content-Type-Options", "nosniff")
	if strings.HasSuffix(rel, maven.MetadataName) || strings.Contains(rel, maven.MetadataName+".") {
		w.Header().Set("Cache-Control", "no-cache")
	}
	http.ServeContent(w, r, "", pub.CreatedAt, f)
}

func isDir(m *manifest.Manifest, prefix string) bool {
	for f := range m.Files {
		if strings.HasPrefix(f, prefix) {
			return true
		}
	}
	return false
}

// listing answers a directory: its files and subdirectories.
func (h *Handler) listing(w http.ResponseWriter, r *http.Request, prod store.Product, dir string, m *manifest.Manifest, pub store.Publication) {
	l := Listing{Product: prod.ID, ProductName: prod.Name, Path: dir}
	dirs := map[string]bool{}
	for f, ref := range m.Files {
		rest, ok := strings.CutPrefix(f, dir)
		if !ok {
			continue
		}
		if name, _, sub := strings.Cut(rest, "/"); sub {
			dirs[name] = true
			continue
		}
		l.Entries = append(l.Entries, ListingEntry{Name: rest, Size: ref.Size, SHA256: ref.Sum, Modified: pub.CreatedAt})
	}
	if len(l.Entries) == 0 && len(dirs) == 0 && dir != "" {
		h.fail(w, r, errs.E(errs.NotFound, "no directory %q in %s", dir, prod.ID))
		return
	}
	for d := range dirs {
		l.Entries = append(l.Entries, ListingEntry{Name: d, Dir: true})
	}
	slices.SortFunc(l.Entries, func(a, b ListingEntry) int {
		if a.Dir != b.Dir {
			if a.Dir {
				return -1
			}
			return 1
		}
		return strings.Compare(a.Name, b.Name)
	})
	if h.cfg.RenderListing != nil {
		h.cfg.RenderListing(w, r, l)
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	for _, e := range l.Entries {
		if e.Dir {
			w.Write([]byte(e.Name + "/\n"))
		} else {
			w.Write([]byte(e.Name + "\n"))
		}
	}
}

func (h *Handler) put(w http.ResponseWriter, r *http.Request) {
	product, rel := r.PathValue("product"), r.PathValue("path")
	p, err := h.authenticate(r, product)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	if !p.write {
		h.fail(w, r, errs.E(errs.Forbidden, "%s may read this repository but not upload: mvn deploy needs an admin API token with the operator or admin role (user: the token's name, password: the token)", p.name))
		return
	}
	if h.cfg.Publisher == nil {
		h.fail(w, r, errs.E(errs.Forbidden, "uploads are not accepted by this server"))
		return
	}
	body := http.MaxBytesReader(w, r.Body, h.cfg.MaxUpload)
	res, err := h.cfg.Publisher.Publish(r.Context(), product, []Upload{{Path: rel, Body: body}})
	if err != nil {
		h.fail(w, r, err)
		return
	}
	if len(res.Added) > 0 {
		h.cfg.Log.Info("maven deploy", "product", product, "path", rel, "by", p.name, "publication", res.Publication.ID)
		w.WriteHeader(http.StatusCreated)
		return
	}
	w.WriteHeader(http.StatusOK)
}

func (h *Handler) fail(w http.ResponseWriter, r *http.Request, err error) {
	status, kind := api.StatusOf(err)
	if status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Basic realm="enmei Maven repository", charset="UTF-8"`)
	}
	var tooBig *http.MaxBytesError
	if errors.As(err, &tooBig) {
		status, kind = http.StatusRequestEntityTooLarge, "invalid"
		err = errs.E(errs.Invalid, "the upload is larger than this server accepts (%d bytes)", tooBig.Limit)
	}
	msg := err.Error()
	if status == http.StatusInternalServerError {
		h.cfg.Log.Error("maven request failed", "method", r.Method, "path", r.URL.Path, "err", err)
		msg = api.InternalMessage
	}
	api.WriteError(w, r, status, kind, msg)
}

func contentType(p string) string {
	switch {
	case strings.HasSuffix(p, ".jar"), strings.HasSuffix(p, ".war"), strings.HasSuffix(p, ".ear"):
		return "application/java-archive"
	case strings.HasSuffix(p, ".pom"), strings.HasSuffix(p, ".xml"):
		return "application/xml"
	case strings.HasSuffix(p, ".md5"), strings.HasSuffix(p, ".sha1"), strings.HasSuffix(p, ".sha256"), strings.HasSuffix(p, ".sha512"),
		strings.HasSuffix(p, ".txt"):
		return "text/plain; charset=utf-8"
	case strings.HasSuffix(p, ".gz"), strings.HasSuffix(p, ".tgz"):
		return "application/gzip"
	case strings.HasSuffix(p, ".zip"):
		return "application/zip"
	case strings.HasSuffix(p, ".asc"):
		return "application/pgp-signature"
	}
	return "application/octet-stream"
}
