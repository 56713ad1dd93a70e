// Package server is enmeid's HTTP face: the registration API the agent calls,
// and the licence-gated repositories dnf and apt read. Every repository
// request is authenticated with the host's credential and checked against the
// live seat and contract (cached for a few seconds); files are streamed from
// the current publication's blobs with Range, ETag and Last-Modified support.
package server

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"path"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/enmei-project/enmei/internal/api"
	"github.com/enmei-project/enmei/internal/blob"
	"github.com/enmei-project/enmei/internal/entitle"
	"github.com/enmei-project/enmei/internal/errs"
	"github.com/enmei-project/enmei/internal/publish"
	"github.com/enmei-project/enmei/internal/sign"
	"github.com/enmei-project/enmei/internal/store"
)

// Config holds a server's dependencies.
type Config struct {
	Store store.Store
	Blobs blob.Store
	Key   *sign.Key
	Now   func() time.Time
	// CacheTTL bounds how long an entitlement decision is reused (default 5 s).
	CacheTTL time.Duration
	// RepoTTL bounds how long a repository's current publication is reused
	// before a publish or rollback shows (default 1 s).
	RepoTTL time.Duration
	// TouchEvery bounds how often a host's last-seen time is written (default 5 min).
	TouchEvery time.Duration
	Log        *slog.Logger
}

// Server serves the API and the repositories.
type Server struct {
	cfg       Config
	manifests *publish.ManifestCache
	mux       *http.ServeMux

	mu      sync.Mutex
	hosts   map[string]hostEntry // host ID → cached entitlement facts
	repos   map[string]repoEntry
	touched map[string]time.Time
	touchCh chan touch
}

type hostEntry struct {
	host     store.Host
	contract store.Contract
	err      error // NotFound etc., cached too so a flood of bad requests stays cheap
	at       time.Time
}

type repoEntry struct {
	repo store.Repo
	pub  store.Publication
	err  error
	at   time.Time
}

type touch struct {
	id string
	at time.Time
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
		cfg.RepoTTL = time.Second
	}
	if cfg.TouchEvery == 0 {
		cfg.TouchEvery = 5 * time.Minute
	}
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	s := &Server{
		cfg:       cfg,
		manifests: &publish.ManifestCache{Blobs: cfg.Blobs, Max: 32},
		hosts:     map[string]hostEntry{},
		repos:     map[string]repoEntry{},
		touched:   map[string]time.Time{},
		touchCh:   make(chan touch, 1024),
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /api/v1/register", s.register)
	mux.HandleFunc("POST /api/v1/unregister", s.unregister)
	mux.HandleFunc("GET /api/v1/status", s.status)
	mux.HandleFunc("GET /api/v1/signing-key", s.signingKey)
	mux.HandleFunc("GET /repos/{repo}/{path...}", s.repoFile)
	mux.HandleFunc("HEAD /repos/{repo}/{path...}", s.repoFile)
	mux.HandleFunc("GET /{$}", s.index)
	s.mux = mux
	return s
}

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mux.ServeHTTP(w, r)
}

// Run writes hosts' last-seen times in the background until ctx ends. The
// request path only queues them, so serving never waits on a database write.
func (s *Server) Run(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case t := <-s.touchCh:
			if err := s.cfg.Store.TouchHost(ctx, t.id, t.at); err != nil && !errs.Is(err, errs.NotFound) {
				s.cfg.Log.Warn("recording last-seen time", "host", t.id, "err", err)
			}
		}
	}
}

func (s *Server) noteSeen(id string, now time.Time) {
	s.mu.Lock()
	last, ok := s.touched[id]
	due := !ok || now.Sub(last) >= s.cfg.TouchEvery
	if due {
		s.touched[id] = now
	}
	s.mu.Unlock()
	if due {
		select {
		case s.touchCh <- touch{id, now}:
		default: // the writer is behind; the next request will try again
			s.mu.Lock()
			delete(s.touched, id)
			s.mu.Unlock()
		}
	}
}

// authHost checks HTTP Basic credentials and the live contract. It returns
// the host and its contract, or an Unauthorized/Forbidden error.
func (s *Server) authHost(r *http.Request) (store.Host, store.Contract, error) {
	host, contract, err := s.authHostAnyContract(r)
	if err != nil {
		return store.Host{}, store.Contract{}, err
	}
	now := s.cfg.Now()
	if err := entitle.CheckValid(contract, now); err != nil {
		return store.Host{}, store.Contract{}, errs.E(errs.Forbidden, "%s", err.Error())
	}
	if !contains(contract.Products, host.ProductID) {
		return store.Host{}, store.Contract{}, errs.E(errs.Forbidden, "contract %s no longer includes product %s", contract.SupportID, host.ProductID)
	}
	s.noteSeen(host.ID, now)
	return host, contract, nil
}

func (s *Server) hostFacts(ctx context.Context, id string, now time.Time) hostEntry {
	s.mu.Lock()
	e, ok := s.hosts[id]
	s.mu.Unlock()
	if ok && now.Sub(e.at) < s.cfg.CacheTTL && now.Sub(e.at) >= 0 {
		return e
	}
	e = hostEntry{at: now}
	e.host, e.err = s.cfg.Store.Host(ctx, id)
	if e.err == nil {
		e.contract, e.err = s.cfg.Store.Contract(ctx, e.host.SupportID)
	}
	if e.err != nil && !errs.Is(e.err, errs.NotFound) {
		return e // do not cache store failures
	}
	s.mu.Lock()
	if len(s.hosts) > 100000 {
		s.hosts = map[string]hostEntry{}
	}
	s.hosts[id] = e
	s.mu.Unlock()
	return e
}

// forget drops cached facts about a host, after it changes here.
func (s *Server) forget(hostID string) {
	s.mu.Lock()
	delete(s.hosts, hostID)
	s.mu.Unlock()
}

func (s *Server) repoFacts(ctx context.Context, id string, now time.Time) repoEntry {
	s.mu.Lock()
	e, ok := s.repos[id]
	s.mu.Unlock()
	if ok && now.Sub(e.at) < s.cfg.RepoTTL && now.Sub(e.at) >= 0 {
		return e
	}
	e = repoEntry{at: now}
	e.repo, e.err = s.cfg.Store.Repo(ctx, id)
	if e.err == nil && e.repo.Current != 0 {
		e.pub, e.err = s.cfg.Store.Publication(ctx, e.repo.Current)
	}
	if e.err != nil && !errs.Is(e.err, errs.NotFound) {
		return e
	}
	s.mu.Lock()
	s.repos[id] = e
	s.mu.Unlock()
	return e
}

func (s *Server) repoFile(w http.ResponseWriter, r *http.Request) {
	host, _, err := s.authHost(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	repoID := r.PathValue("repo")
	rel := r.PathValue("path")
	now := s.cfg.Now()
	re := s.repoFacts(r.Context(), repoID, now)
	if re.err != nil {
		s.fail(w, r, re.err)
		return
	}
	if re.repo.ProductID != host.ProductID {
		s.fail(w, r, errs.E(errs.Forbidden, "this host's licence does not cover repository %s", repoID))
		return
	}
	// Clean and refuse anything that tries to leave the repository; paths are
	// only ever looked up in the manifest, never joined onto a directory.
	clean := path.Clean("/" + rel)[1:]
	if clean != rel || strings.Contains(rel, "..") || strings.Contains(rel, "\\") {
		s.fail(w, r, errs.E(errs.NotFound, "no file %q in repository %s", rel, repoID))
		return
	}
	if re.repo.Current == 0 {
		s.fail(w, r, errs.E(errs.NotFound, "repository %s has not been published yet", repoID))
		return
	}
	m, err := s.manifests.Get(r.Context(), re.pub.Manifest)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	ref, ok := m.Files[clean]
	if !ok {
		ref, ok = s.recentFile(r.Context(), re, clean)
	}
	if !ok {
		s.fail(w, r, errs.E(errs.NotFound, "no file %q in repository %s", rel, repoID))
		return
	}
	f, info, err := s.cfg.Blobs.Open(r.Context(), ref.Sum)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	defer f.Close()
	w.Header().Set("ETag", `"`+ref.Sum+`"`)
	w.Header().Set("Content-Type", contentType(clean))
	if strings.HasPrefix(clean, "repodata/") || strings.HasPrefix(clean, "dists/") {
		w.Header().Set("Cache-Control", "no-cache")
	}
	// ServeContent streams from the file with Range, HEAD and conditional
	// requests handled; it never reads the body into memory.
	http.ServeContent(w, r, "", info.ModTime, f)
}

// contentAddressed matches metadata files named by their digest, which never
// change: repodata/<sha256>-primary.xml.gz, dists/…/by-hash/SHA256/<sha256>.
var contentAddressed = regexp.MustCompile(`^repodata/[0-9a-f]{64}-|/by-hash/SHA256/[0-9a-f]{64}$`)

// recentFile looks a content-addressed metadata file up in the repository's
// previous publications. A client that read repomd.xml or InRelease just
// before a publish (or rollback) switched the repository still finds the
// files that index names, so it never mixes two snapshots.
func (s *Server) recentFile(ctx context.Context, re repoEntry, path string) (publish.FileRef, bool) {
	if !contentAddressed.MatchString(path) {
		return publish.FileRef{}, false
	}
	pubs, err := s.cfg.Store.Publications(ctx, re.repo.ID)
	if err != nil {
		return publish.FileRef{}, false
	}
	checked := 0
	for _, p := range pubs {
		if p.ID == re.pub.ID {
			continue
		}
		if checked++; checked > 3 {
			break
		}
		m, err := s.manifests.Get(ctx, p.Manifest)
		if err != nil {
			continue
		}
		if ref, ok := m.Files[path]; ok {
			return ref, true
		}
	}
	return publish.FileRef{}, false
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
	pub, err := s.cfg.Key.ArmoredPublic()
	if err != nil {
		s.fail(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "application/pgp-keys")
	w.Write(pub)
}

func (s *Server) index(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	fmt.Fprint(w, `<!doctype html><html lang="ja"><meta charset="utf-8"><title>enmei</title>
<h1>enmei 延命</h1><p>Extended lifecycle support repositories. / 延長ライフサイクルサポートのリポジトリです。</p>
<p>Register a host with <code>enmei register --server URL --key KEY</code>, then update with dnf or apt.</p>
<p><a href="/api/v1/signing-key">OpenPGP signing key / 署名鍵</a></p></html>`)
}

// fail writes err as an api.Error with the status its kind maps to. This is
// the one place domain errors become HTTP statuses.
func (s *Server) fail(w http.ResponseWriter, r *http.Request, err error) {
	status, kind := http.StatusInternalServerError, "internal"
	switch errs.KindOf(err) {
	case errs.Invalid:
		status, kind = http.StatusBadRequest, "invalid"
	case errs.NotFound:
		status, kind = http.StatusNotFound, "not_found"
	case errs.Exists:
		status, kind = http.StatusConflict, "exists"
	case errs.Unauthorized:
		status, kind = http.StatusUnauthorized, "unauthorized"
		w.Header().Set("WWW-Authenticate", `Basic realm="enmei", charset="UTF-8"`)
	case errs.Forbidden:
		status, kind = http.StatusForbidden, "forbidden"
	case errs.Entitlement:
		status, kind = http.StatusForbidden, "entitlement"
	}
	msg := err.Error()
	if status == http.StatusInternalServerError {
		s.cfg.Log.Error("request failed", "method", r.Method, "path", r.URL.Path, "err", err)
		msg = "the server failed to handle the request; the vendor's operators can find the cause in enmeid's log"
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	if r.Method != http.MethodHead {
		json.NewEncoder(w).Encode(api.Error{Error: msg, Kind: kind})
	}
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
