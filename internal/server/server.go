// Package server is enmeid's HTTP face: the registration API the agent calls,
// and the licence-gated repositories dnf and apt read. Every repository
// request is authenticated with the host's credential and checked against the
// live seat and contract (cached for a few seconds in a bounded cache keyed
// only by well-formed host IDs); files are streamed from the current
// publication's blobs with Range and ETag support. Entry-point metadata
// (repomd.xml, InRelease, Release) is always served from the publication
// that is current in the database at that moment, so a publish or rollback
// is visible on every replica as soon as it returns. The server holds only
// the public signing key.
package server

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/netip"
	"path"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/golang-lru/v2/expirable"
	"golang.org/x/sync/singleflight"
	"golang.org/x/time/rate"

	"github.com/enmei-project/enmei/internal/agentrepo"
	"github.com/enmei-project/enmei/internal/api"
	"github.com/enmei-project/enmei/internal/blob"
	"github.com/enmei-project/enmei/internal/entitle"
	"github.com/enmei-project/enmei/internal/errs"
	"github.com/enmei-project/enmei/internal/manifest"
	"github.com/enmei-project/enmei/internal/sign"
	"github.com/enmei-project/enmei/internal/store"
)

// Store is what the server needs of the store: host and contract facts,
// registrations, and the current publication of each repository.
type Store interface {
	Product(ctx context.Context, id string) (store.Product, error)
	Repo(ctx context.Context, id string) (store.Repo, error)
	Repos(ctx context.Context, productID string) ([]store.Repo, error)
	Contract(ctx context.Context, supportID string) (store.Contract, error)
	LicenseKeyByHash(ctx context.Context, hash []byte) (store.LicenseKey, error)
	ClaimSeat(ctx context.Context, claim store.SeatClaim) (store.Host, bool, error)
	Host(ctx context.Context, id string) (store.Host, error)
	MirrorAccount(ctx context.Context, id string) (store.MirrorAccount, error)
	Hosts(ctx context.Context, supportID string, now time.Time) ([]store.Host, error)
	ReleaseSeat(ctx context.Context, supportID, hostID string) error
	TouchHost(ctx context.Context, hostID string, t time.Time) error
	Heartbeat(ctx context.Context, hostID string, now time.Time, check func(store.Contract) error) (store.Host, error)
	PruneSeats(ctx context.Context, expiredBefore, spansBefore time.Time) (int, error)
	Publication(ctx context.Context, id int64) (store.Publication, error)
	Publications(ctx context.Context, repoID string) ([]store.Publication, error)
	UpgradeRules(ctx context.Context, productIDs ...string) ([]store.UpgradeRule, error)
	PackagesByName(ctx context.Context, names []string) ([]store.Package, error)
}

// Blobs is what the server reads of the blob store.
type Blobs interface {
	Open(ctx context.Context, sum string) (io.ReadSeekCloser, blob.Info, error)
}

// Hooks let the server report what it does (metrics, access log) without
// knowing how; every field may be nil.
type Hooks struct {
	// Registration is told the outcome of each registration: "new",
	// "reused" or "refused".
	Registration func(result string)
	// Host is told the host ID a request authenticated as.
	Host func(r *http.Request, hostID string)
}

// Config holds a server's dependencies.
type Config struct {
	Store Store
	Blobs Blobs
	// PublicKey returns the repositories' public signing key; errs.NotFound
	// before the first publish made one.
	PublicKey func(ctx context.Context) (*sign.PublicKey, error)
	Now       func() time.Time
	// CacheTTL bounds how long an entitlement decision is reused (default 5 s).
	CacheTTL time.Duration
	// RepoTTL bounds how long a repository's current publication is reused
	// for package downloads (default 5 s); entry-point metadata never uses it.
	RepoTTL time.Duration
	// TouchEvery bounds how often a host's last-seen time is written (default 5 min).
	TouchEvery time.Duration
	// APIRate and APIBurst limit /api/v1/* requests per client address
	// (default 5 per second, bursts of 60).
	APIRate  float64
	APIBurst int
	// TrustedProxies are the load balancers and reverse proxies whose
	// X-Forwarded-For is believed, so the limit applies per real client.
	TrustedProxies []netip.Prefix
	Log            *slog.Logger
	Hooks          Hooks
	// Tracker serves /api/v1/advisories (nil: not offered).
	Tracker Tracker
	// PublicURL is how hosts reach the server (enmeid serve --public-url);
	// the .repo sent to register.sh points at it. "" : the address a
	// request came to.
	PublicURL string
	// Desk takes the files hosts attach to their tickets (nil: not offered).
	Desk Desk
}

// Cache sizes: enough for every host of a large vendor, and a fixed bound on
// memory whatever clients send.
const (
	hostCacheSize    = 50000
	repoCacheSize    = 4096
	limiterCacheSize = 20000
	manifestCache    = 32
)

// Server serves the API and the repositories.
type Server struct {
	cfg       Config
	manifests *manifest.Cache
	mux       *http.ServeMux

	hosts     *expirable.LRU[string, hostEntry] // validated host ID → facts
	hostLoads singleflight.Group
	repos     *expirable.LRU[string, repoEntry] // validated repository ID → current publication
	repoLoads singleflight.Group
	limiters  *expirable.LRU[string, *rate.Limiter] // client address → limiter

	touchMu sync.Mutex
	touched *expirable.LRU[string, time.Time]
	touchCh chan touch
}

type hostEntry struct {
	host     store.Host
	contract store.Contract
	err      error     // NotFound is cached too, so repeated bad requests stay cheap
	at       time.Time // by the configured clock, which rules (tests move it)
}

type repoEntry struct {
	repo store.Repo
	pub  store.Publication
	err  error
	at   time.Time
}

// fresh reports whether an entry loaded at at may still be used at now.
func fresh(at, now time.Time, ttl time.Duration) bool {
	age := now.Sub(at)
	return age >= 0 && age < ttl
}

type touch struct {
	id    string
	at    time.Time
	lease bool // the touch renews a lease
}

// New returns a server; call Run to start its background work.
func New(cfg Config) *Server {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.CacheTTL == 0 {
		cfg.CacheTTL = 5 * time.Second
	}
	if cfg.RepoTTL == 0 {
		cfg.RepoTTL = 5 * time.Second
	}
	if cfg.TouchEvery == 0 {
		cfg.TouchEvery = 5 * time.Minute
	}
	if cfg.APIRate == 0 {
		cfg.APIRate = 5
	}
	if cfg.APIBurst == 0 {
		cfg.APIBurst = 60
	}
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	s := &Server{
		cfg:       cfg,
		manifests: manifest.NewCache(cfg.Blobs, manifestCache),
		hosts:     expirable.NewLRU[string, hostEntry](hostCacheSize, nil, cfg.CacheTTL),
		repos:     expirable.NewLRU[string, repoEntry](repoCacheSize, nil, cfg.RepoTTL),
		limiters:  expirable.NewLRU[string, *rate.Limiter](limiterCacheSize, nil, 10*time.Minute),
		touched:   expirable.NewLRU[string, time.Time](hostCacheSize, nil, cfg.TouchEvery),
		touchCh:   make(chan touch, 1024),
	}
	mux := http.NewServeMux()
	mux.Handle("POST /api/v1/register", s.limited(s.register))
	mux.Handle("POST /api/v1/unregister", s.limited(s.unregister))
	mux.Handle("GET /api/v1/status", s.limited(s.status))
	mux.Handle("POST /api/v1/heartbeat", s.limited(s.heartbeat))
	mux.Handle("GET /api/v1/signing-key", s.limited(s.signingKey))
	mux.Handle("GET /api/v1/repos/{repo}/upstream-key", s.limited(s.upstreamKey))
	mux.Handle("GET /api/v1/advisories", s.limited(s.advisories))
	mux.Handle("GET /api/v1/upgrade-paths", s.limited(s.upgradePaths))
	mux.Handle("POST /api/v1/tickets/{ticket}/attachments", s.limited(s.ticketAttachment))
	mux.HandleFunc("GET /repos/{repo}/{path...}", s.repoFile)
	mux.HandleFunc("HEAD /repos/{repo}/{path...}", s.repoFile)
	mux.HandleFunc("GET /agent/{kind}/{path...}", s.agentFile)
	mux.HandleFunc("HEAD /agent/{kind}/{path...}", s.agentFile)
	s.mux = mux
	return s
}

// Handle adds a route to the server's mux (health, metrics, portal pages).
func (s *Server) Handle(pattern string, h http.Handler) { s.mux.Handle(pattern, h) }

// ForgetHost drops a host's cached entitlement, so a seat released in this
// process stops working at once rather than when the cache entry expires.
func (s *Server) ForgetHost(id string) { s.hosts.Remove(id) }

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mux.ServeHTTP(w, r)
}

// Mux returns the server's router, so a middleware can ask which route a
// request will take.
func (s *Server) Mux() *http.ServeMux { return s.mux }

// Run writes hosts' last-seen times in the background until ctx ends. The
// request path only queues them, so serving never waits on a database write.
// Every ten minutes it also deletes hosts whose lease ended more than
// entitle.LeaseKept ago, and seat history older than entitle.SeatHistory.
func (s *Server) Run(ctx context.Context) {
	prune := time.NewTicker(10 * time.Minute)
	defer prune.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-prune.C:
			now := s.cfg.Now()
			if n, err := s.cfg.Store.PruneSeats(ctx, now.Add(-entitle.LeaseKept), now.Add(-entitle.SeatHistory)); err != nil {
				s.cfg.Log.Warn("pruning ended leases", "err", err)
			} else if n > 0 {
				s.cfg.Log.Info("pruned ended leases", "hosts", n)
			}
		case t := <-s.touchCh:
			if err := s.cfg.Store.TouchHost(ctx, t.id, t.at); err != nil && !errs.Is(err, errs.NotFound) {
				s.cfg.Log.Warn("recording last-seen time", "host", t.id, "err", err)
			}
			if t.lease {
				s.forget(t.id) // the next request sees the renewed lease
			}
		}
	}
}

// noteSeen queues a host's last-seen time, at most once per TouchEvery,
// and for an ephemeral seat at least three times per lease, since the
// write is also what renews the lease.
func (s *Server) noteSeen(h store.Host, now time.Time) {
	id, every := h.ID, s.cfg.TouchEvery
	if h.LeaseTTL > 0 {
		every = min(every, h.LeaseTTL/3)
	}
	s.touchMu.Lock()
	last, ok := s.touched.Get(id)
	recent := ok && fresh(last, now, every)
	if !recent {
		s.touched.Add(id, now)
	}
	s.touchMu.Unlock()
	if recent {
		return
	}
	select {
	case s.touchCh <- touch{id, now, h.LeaseTTL > 0}:
	default: // the writer is behind; the next request will try again
		s.touched.Remove(id)
	}
}

// limited applies the per-address rate limit of /api/v1/*.
func (s *Server) limited(h http.HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		addr := s.ClientAddr(r)
		lim, ok := s.limiters.Get(addr)
		if !ok {
			lim = rate.NewLimiter(rate.Limit(s.cfg.APIRate), s.cfg.APIBurst)
			s.limiters.Add(addr, lim)
		}
		if !lim.Allow() {
			w.Header().Set("Retry-After", strconv.Itoa(int(max(1, 60/s.cfg.APIRate))))
			s.writeError(w, r, http.StatusTooManyRequests, "rate_limited",
				"too many requests from this address: wait a minute and try again")
			return
		}
		h(w, r)
	})
}

// ClientAddr is the request's client IP: the peer, or behind a trusted
// proxy the nearest address in X-Forwarded-For that is not a trusted proxy.
// It is always a parsed IP, so no client-chosen text becomes a cache key.
func (s *Server) ClientAddr(r *http.Request) string {
	peer, err := netip.ParseAddrPort(r.RemoteAddr)
	if err != nil {
		return "unknown"
	}
	ip := peer.Addr().Unmap()
	if !s.trusted(ip) {
		return ip.String()
	}
	hops := strings.Split(strings.Join(r.Header.Values("X-Forwarded-For"), ","), ",")
	for i := len(hops) - 1; i >= 0 && i >= len(hops)-16; i-- {
		hop, err := netip.ParseAddr(strings.TrimSpace(hops[i]))
		if err != nil {
			break // a forged or broken header: stop at the last proxy we trust
		}
		ip = hop.Unmap()
		if !s.trusted(ip) {
			break
		}
	}
	return ip.String()
}

func (s *Server) trusted(ip netip.Addr) bool {
	for _, p := range s.cfg.TrustedProxies {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}

// authHost checks HTTP Basic credentials and the live contract. It returns
// the host and its contract, or an Unauthorized/Forbidden error. A refusal
// decided on cached facts older than a second is decided again on fresh
// ones: another replica may have renewed the lease, extended the contract
// or rotated the secret since.
func (s *Server) authHost(r *http.Request) (store.Host, store.Contract, error) {
	host, contract, stale, err := s.authHostCached(r)
	if err != nil && stale {
		id, _, _ := r.BasicAuth()
		s.forget(id)
		host, contract, _, err = s.authHostCached(r)
	}
	return host, contract, err
}

func (s *Server) authHostCached(r *http.Request) (store.Host, store.Contract, bool, error) {
	host, contract, stale, err := s.credential(r)
	if err != nil {
		return store.Host{}, store.Contract{}, stale, err
	}
	now := s.cfg.Now()
	if err := entitle.CheckValid(contract, now); err != nil {
		return store.Host{}, store.Contract{}, stale, errs.E(errs.Forbidden, "%s", err.Error())
	}
	if !contains(contract.Products, host.ProductID) {
		return store.Host{}, store.Contract{}, stale, errs.E(errs.Forbidden, "contract %s no longer includes product %s", contract.SupportID, host.ProductID)
	}
	if !host.Live(now) {
		return store.Host{}, store.Contract{}, stale, errs.E(errs.Entitlement, "this host's lease ended at %s and its seat was freed: run enmei heartbeat to take a seat again",
			host.LeaseExpires.In(entitle.Tokyo).Format("2006-01-02 15:04:05 JST"))
	}
	s.noteSeen(host, now)
	return host, contract, false, nil
}

// authHostAnyContract checks the credential only (see credential).
func (s *Server) authHostAnyContract(r *http.Request) (store.Host, store.Contract, error) {
	host, contract, stale, err := s.credential(r)
	if err != nil && stale {
		id, _, _ := r.BasicAuth()
		s.forget(id)
		host, contract, _, err = s.credential(r)
	}
	return host, contract, err
}

// credential checks the credential only: a host of an expired contract may
// still give its seat back. Credentials of the wrong shape are refused
// before any lookup, so they never reach the cache or the database. stale
// reports a decision made on cached facts older than a second.
func (s *Server) credential(r *http.Request) (store.Host, store.Contract, bool, error) {
	id, secret, ok := r.BasicAuth()
	if !ok {
		return store.Host{}, store.Contract{}, false, errs.E(errs.Unauthorized, "this needs the host credential that enmei register writes: register the host first")
	}
	if !entitle.LooksLikeHostID(id) || !entitle.LooksLikeSecret(secret) {
		return store.Host{}, store.Contract{}, false, errs.E(errs.Unauthorized, "the host credential is not valid: run enmei register again")
	}
	now := s.cfg.Now()
	e := s.hostFacts(r.Context(), id, now)
	stale := e.at.Before(now.Add(-time.Second))
	if e.err != nil {
		if errs.Is(e.err, errs.NotFound) {
			return store.Host{}, store.Contract{}, stale, errs.E(errs.Unauthorized, "the host credential is not valid (the host was unregistered or its seat released): run enmei register again")
		}
		return store.Host{}, store.Contract{}, false, e.err
	}
	if !entitle.Matches(secret, e.host.SecretHash) {
		return store.Host{}, store.Contract{}, stale, errs.E(errs.Unauthorized, "the host credential is not valid: run enmei register again")
	}
	if s.cfg.Hooks.Host != nil {
		s.cfg.Hooks.Host(r, e.host.ID)
	}
	return e.host, e.contract, stale, nil
}

// hostFacts returns a host and its contract, from the cache when fresh.
// Concurrent misses for one host share one load.
func (s *Server) hostFacts(ctx context.Context, id string, now time.Time) hostEntry {
	if e, ok := s.hosts.Get(id); ok && fresh(e.at, now, s.cfg.CacheTTL) {
		return e
	}
	v, _, _ := s.hostLoads.Do(id, func() (any, error) {
		ctx := context.WithoutCancel(ctx)
		e := hostEntry{at: now}
		if entitle.LooksLikeMirrorID(id) {
			// A mirror account is cached like a host: a credential
			// and the contract it reads under.
			var a store.MirrorAccount
			a, e.err = s.cfg.Store.MirrorAccount(ctx, id)
			e.host = store.Host{ID: a.ID, SupportID: a.SupportID, SecretHash: a.SecretHash}
		} else {
			e.host, e.err = s.cfg.Store.Host(ctx, id)
		}
		if e.err == nil {
			e.contract, e.err = s.cfg.Store.Contract(ctx, e.host.SupportID)
		}
		if e.err == nil || errs.Is(e.err, errs.NotFound) {
			s.hosts.Add(id, e) // store failures are not cached
		}
		return e, nil
	})
	return v.(hostEntry)
}

// checkUpdates refuses the repositories to a platform contract without the
// ELS updates option while the host's product is in its extended phase.
// Only platform contracts pay for the product lookup (cached with the
// catalogue's other reads).
func (s *Server) checkUpdates(ctx context.Context, host store.Host, c store.Contract) error {
	if c.Plan != entitle.PlanPlatform || c.ELSUpdates {
		return nil
	}
	p, err := s.cfg.Store.Product(ctx, host.ProductID)
	if err != nil {
		return err
	}
	return entitle.CheckUpdates(c, p.Lifecycle(), s.cfg.Now())
}

// Purge drops every cached host and repository fact: something another
// process changed (a seat released, …) may be among them.
func (s *Server) Purge() {
	s.hosts.Purge()
	s.repos.Purge()
}

// forget drops cached facts about a host, after it changes here.
func (s *Server) forget(hostID string) { s.hosts.Remove(hostID) }

// repoIDShape is what enmeid repo add accepts; anything else is no
// repository, and never a cache key.
var repoIDShape = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]{0,63}$`)

// repoFacts returns a repository and its current publication. latest reads
// the database now (entry-point metadata, and misses in a cached
// publication); otherwise a few seconds' old answer may be used.
func (s *Server) repoFacts(ctx context.Context, id string, latest bool) repoEntry {
	if !repoIDShape.MatchString(id) {
		return repoEntry{err: errs.E(errs.NotFound, "no repository %q", id)}
	}
	now := s.cfg.Now()
	if !latest {
		if e, ok := s.repos.Get(id); ok && fresh(e.at, now, s.cfg.RepoTTL) {
			return e
		}
	}
	load := func() repoEntry {
		e := repoEntry{at: now}
		e.repo, e.err = s.cfg.Store.Repo(ctx, id)
		if e.err == nil && e.repo.Current != 0 {
			e.pub, e.err = s.cfg.Store.Publication(ctx, e.repo.Current)
		}
		if e.err == nil || errs.Is(e.err, errs.NotFound) {
			s.repos.Add(id, e)
		}
		return e
	}
	if latest {
		// No singleflight here: joining a load that began before a publish
		// returned could hand this request the old snapshot.
		return load()
	}
	v, _, _ := s.repoLoads.Do(id, func() (any, error) {
		ctx = context.WithoutCancel(ctx)
		return load(), nil
	})
	return v.(repoEntry)
}

// contentAddressed matches metadata files named by their digest, which never
// change: repodata/<sha256>-primary.xml.gz, dists/…/by-hash/SHA256/<sha256>.
var contentAddressed = regexp.MustCompile(`^repodata/[0-9a-f]{64}-|/by-hash/SHA256/[0-9a-f]{64}$`)

// mutableMetadata reports whether path is metadata whose name stays while
// its content changes with each publication (repomd.xml, InRelease,
// Release, Packages.gz, …).
func mutableMetadata(p string) bool {
	return (strings.HasPrefix(p, "repodata/") || strings.HasPrefix(p, "dists/")) && !contentAddressed.MatchString(p)
}

// CleanRepoPath returns the repository-relative path a request names, or
// false when it is not a plain relative path (traversal, backslashes,
// doubled or trailing slashes, NUL, overlong).
func CleanRepoPath(rel string) (string, bool) {
	if rel == "" || len(rel) > 1024 || strings.ContainsAny(rel, "\\\x00") || strings.Contains(rel, "..") {
		return "", false
	}
	clean := path.Clean("/" + rel)[1:]
	if clean != rel {
		return "", false
	}
	return clean, true
}

func (s *Server) repoFile(w http.ResponseWriter, r *http.Request) {
	if id, _, ok := r.BasicAuth(); ok && entitle.LooksLikeMirrorID(id) {
		s.mirrorFile(w, r)
		return
	}
	host, contract, err := s.authHost(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if err := s.checkUpdates(r.Context(), host, contract); err != nil {
		s.fail(w, r, err)
		return
	}
	s.serveRepoFile(w, r, r.PathValue("repo"), r.PathValue("path"), func(repo store.Repo) error {
		if repo.ProductID != host.ProductID {
			return errs.E(errs.Forbidden, "this host's licence does not cover repository %s", repo.ID)
		}
		return nil
	})
}

// mirrorFile serves a repository to a mirror account: any repository of
// the contract's products, while the contract is valid and allows mirror
// use (an individual term, checked on every request like a host's lease).
func (s *Server) mirrorFile(w http.ResponseWriter, r *http.Request) {
	contract, err := s.authMirror(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.serveRepoFile(w, r, r.PathValue("repo"), r.PathValue("path"), func(repo store.Repo) error {
		if !contains(contract.Products, repo.ProductID) {
			return errs.E(errs.Forbidden, "contract %s does not cover repository %s", contract.SupportID, repo.ID)
		}
		if contract.Plan != entitle.PlanPlatform || contract.ELSUpdates {
			return nil
		}
		p, err := s.cfg.Store.Product(r.Context(), repo.ProductID)
		if err != nil {
			return err
		}
		return entitle.CheckUpdates(contract, p.Lifecycle(), s.cfg.Now())
	})
}

// authMirror checks a mirror account's credential and its live contract,
// deciding again on fresh facts when a refusal came from stale ones.
func (s *Server) authMirror(r *http.Request) (store.Contract, error) {
	c, stale, err := s.mirrorCredential(r)
	if err != nil && stale {
		id, _, _ := r.BasicAuth()
		s.forget(id)
		c, _, err = s.mirrorCredential(r)
	}
	return c, err
}

func (s *Server) mirrorCredential(r *http.Request) (store.Contract, bool, error) {
	id, secret, _ := r.BasicAuth()
	if !entitle.LooksLikeSecret(secret) {
		return store.Contract{}, false, errs.E(errs.Unauthorized, "the mirror account's password is not valid: use the one enmeid contract mirror-account printed")
	}
	now := s.cfg.Now()
	e := s.hostFacts(r.Context(), id, now)
	stale := e.at.Before(now.Add(-time.Second))
	if e.err != nil {
		if errs.Is(e.err, errs.NotFound) {
			return store.Contract{}, stale, errs.E(errs.Unauthorized, "the mirror account is not valid (it was replaced, or never existed): ask the vendor for the current one")
		}
		return store.Contract{}, false, e.err
	}
	if !entitle.Matches(secret, e.host.SecretHash) {
		return store.Contract{}, stale, errs.E(errs.Unauthorized, "the mirror account's password is not valid: use the one enmeid contract mirror-account printed")
	}
	if err := entitle.CheckValid(e.contract, now); err != nil {
		return store.Contract{}, stale, errs.E(errs.Forbidden, "%s", err.Error())
	}
	if !e.contract.AllowMirror {
		return store.Contract{}, stale, errs.E(errs.Forbidden, "contract %s does not allow mirroring (an individual contract term): ask the vendor to allow it", e.contract.SupportID)
	}
	return e.contract, false, nil
}

// agentFile serves the agent's public repositories (/agent/rpm/…,
// /agent/deb/…) to anyone: they hold only the agent, which a host needs
// before it has credentials.
func (s *Server) agentFile(w http.ResponseWriter, r *http.Request) {
	repoID, ok := agentrepo.RepoFor(r.PathValue("kind"))
	if !ok {
		s.fail(w, r, errs.E(errs.NotFound, "no agent repository %q: there are rpm and deb", r.PathValue("kind")))
		return
	}
	s.serveRepoFile(w, r, repoID, r.PathValue("path"), func(repo store.Repo) error {
		if repo.ProductID != agentrepo.ProductID {
			return errs.E(errs.NotFound, "no agent repository")
		}
		return nil
	})
}

// serveRepoFile serves one file of a repository's current publication, once
// allow accepted the repository.
func (s *Server) serveRepoFile(w http.ResponseWriter, r *http.Request, repoID, path string, allow func(store.Repo) error) {
	rel, ok := CleanRepoPath(path)
	if !ok {
		s.fail(w, r, errs.E(errs.NotFound, "no such file in repository %s", repoID))
		return
	}
	// Paths are only ever looked up in the manifest, never joined onto a directory.
	mutable := mutableMetadata(rel)
	re := s.repoFacts(r.Context(), repoID, mutable)
	if re.err != nil {
		s.fail(w, r, re.err)
		return
	}
	if err := allow(re.repo); err != nil {
		s.fail(w, r, err)
		return
	}
	if re.repo.Current == 0 {
		s.fail(w, r, errs.E(errs.NotFound, "repository %s has not been published yet", repoID))
		return
	}
	ref, ok, err := s.lookup(r.Context(), re, rel)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if !ok && !mutable {
		// A package published a moment ago is not in a cached snapshot.
		if re = s.repoFacts(r.Context(), repoID, true); re.err == nil && re.repo.Current != 0 {
			ref, ok, err = s.lookup(r.Context(), re, rel)
			if err != nil {
				s.fail(w, r, err)
				return
			}
		}
	}
	if !ok {
		ref, ok = s.recentFile(r.Context(), re, rel)
	}
	if !ok {
		s.fail(w, r, errs.E(errs.NotFound, "no file %q in repository %s", rel, repoID))
		return
	}
	f, _, err := s.cfg.Blobs.Open(r.Context(), ref.Sum)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	defer f.Close()
	w.Header().Set("ETag", `"`+ref.Sum+`"`)
	w.Header().Set("Content-Type", contentType(rel))
	// Files whose content changes under the same name are validated by
	// ETag only: a Last-Modified date could go backwards (a rollback) and
	// answer 304 to a client holding newer content. Content-addressed
	// files never change, so a date is harmless there.
	var modTime time.Time
	switch {
	case mutable:
		w.Header().Set("Cache-Control", "no-cache")
	case contentAddressed.MatchString(rel):
		modTime = re.pub.CreatedAt
		w.Header().Set("Cache-Control", "max-age=86400")
	}
	// ServeContent streams from the file with Range, HEAD and conditional
	// requests handled; it never reads the body into memory.
	http.ServeContent(w, r, "", modTime, f)
}

// lookup finds a path in a publication's manifest.
func (s *Server) lookup(ctx context.Context, re repoEntry, p string) (manifest.FileRef, bool, error) {
	m, err := s.manifests.Get(ctx, re.pub.Manifest)
	if err != nil {
		return manifest.FileRef{}, false, err
	}
	ref, ok := m.Files[p]
	return ref, ok, nil
}

// recentFile looks a content-addressed metadata file up in the repository's
// previous publications. A client that read repomd.xml or InRelease just
// before a publish (or rollback) switched the repository still finds the
// files that index names, so it never mixes two snapshots.
func (s *Server) recentFile(ctx context.Context, re repoEntry, p string) (manifest.FileRef, bool) {
	if !contentAddressed.MatchString(p) {
		return manifest.FileRef{}, false
	}
	pubs, err := s.cfg.Store.Publications(ctx, re.repo.ID)
	if err != nil {
		return manifest.FileRef{}, false
	}
	checked := 0
	for _, pub := range pubs {
		if pub.ID == re.pub.ID {
			continue
		}
		if checked++; checked > 3 {
			break
		}
		m, err := s.manifests.Get(ctx, pub.Manifest)
		if err != nil {
			continue
		}
		if ref, ok := m.Files[p]; ok {
			return ref, true
		}
	}
	return manifest.FileRef{}, false
}

func contentType(p string) string {
	switch {
	case strings.HasSuffix(p, ".rpm"):
		return "application/x-rpm"
	case strings.HasSuffix(p, ".deb"):
		return "application/vnd.debian.binary-package"
	case strings.HasSuffix(p, ".xml"):
		return "application/xml"
	case strings.HasSuffix(p, ".gz"):
		return "application/gzip"
	case strings.HasSuffix(p, ".xz"):
		return "application/x-xz"
	case strings.HasSuffix(p, ".asc"), strings.HasSuffix(p, ".gpg"):
		return "application/pgp-signature"
	}
	return "application/octet-stream"
}

func (s *Server) signingKey(w http.ResponseWriter, r *http.Request) {
	key, err := s.cfg.PublicKey(r.Context())
	if err != nil {
		s.fail(w, r, err)
		return
	}
	pub, err := key.ArmoredPublic()
	if err != nil {
		s.fail(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "application/pgp-keys")
	w.Write(pub)
}

// upstreamKey answers a registered host with the distribution's key of a
// mirror of its product (what register.sh installs beside the vendor's
// key; the agent gets it in the repository list).
func (s *Server) upstreamKey(w http.ResponseWriter, r *http.Request) {
	host, _, err := s.authHost(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	id := r.PathValue("repo")
	re := s.repoFacts(r.Context(), id, false)
	if re.err != nil {
		s.fail(w, r, re.err)
		return
	}
	if re.repo.ProductID != host.ProductID {
		s.fail(w, r, errs.E(errs.Forbidden, "this host's licence does not cover repository %s", id))
		return
	}
	if re.repo.Mirror == nil || re.repo.Mirror.Key == "" {
		s.fail(w, r, errs.E(errs.NotFound, "repository %s has no upstream key: it is not a mirror synced with --gpgkey", id))
		return
	}
	w.Header().Set("Content-Type", "application/pgp-keys")
	io.WriteString(w, strings.TrimRight(re.repo.Mirror.Key, "\n")+"\n")
}

// fail writes err as an api.Error with the status its kind maps to. This is
// the one place domain errors become HTTP statuses.
func (s *Server) fail(w http.ResponseWriter, r *http.Request, err error) {
	status, kind := api.StatusOf(err)
	if status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Basic realm="enmei", charset="UTF-8"`)
	}
	msg := err.Error()
	if status == http.StatusInternalServerError {
		s.cfg.Log.Error("request failed", "method", r.Method, "path", r.URL.Path, "err", err)
		msg = api.InternalMessage
	}
	s.writeError(w, r, status, kind, msg)
}

func (s *Server) writeError(w http.ResponseWriter, r *http.Request, status int, kind, msg string) {
	if wantsText(r) {
		writeTextError(w, r, status, msg)
		return
	}
	api.WriteError(w, r, status, kind, msg)
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(v)
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}
