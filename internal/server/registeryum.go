package server

import (
	"context"
	"net/http"
	"strings"

	"github.com/enmei-project/enmei/internal/api"
	"github.com/enmei-project/enmei/internal/errs"
	"github.com/enmei-project/enmei/internal/repoconf"
	"github.com/enmei-project/enmei/internal/store"
)

// FormatYumRepo is the value of POST /api/v1/register's format parameter
// that asks for the registration as a ready /etc/yum.repos.d/enmei.repo
// (text/plain) instead of JSON: register.sh, the POSIX shell registration
// for hosts that cannot run the agent (EL6), writes it as it comes, with no
// JSON to parse. Errors then come as their one sentence in text/plain.
const FormatYumRepo = "yum-repo"

// wantsText reports whether a request asked for text answers: the yum-repo
// registration, or any request whose Accept names text/plain first. Error
// sentences are then sent as plain text, which a shell script prints as it
// is.
func wantsText(r *http.Request) bool {
	return r.URL.Query().Get("format") == FormatYumRepo || strings.HasPrefix(r.Header.Get("Accept"), "text/plain")
}

// writeTextError is an error as its one sentence in text/plain.
func writeTextError(w http.ResponseWriter, r *http.Request, status int, msg string) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	if r.Method != http.MethodHead {
		w.Write([]byte(strings.Join(strings.Fields(msg), " ") + "\n"))
	}
}

// checkYumRepos refuses, before a seat is taken, a yum-repo registration
// that would configure nothing: a .repo without a repository carries no
// credential, so register.sh could never give such a seat back.
func (s *Server) checkYumRepos(ctx context.Context, product store.Product, arch string) error {
	rs, err := s.cfg.Store.Repos(ctx, product.ID)
	if err != nil {
		return err
	}
	var all []api.Repo
	for _, r := range rs {
		all = append(all, api.Repo{ID: r.ID, Format: r.Format, Arch: r.Arch})
	}
	if fit, _ := repoconf.HostRepos(all, repoconf.FamilyRPM, arch); len(fit) == 0 {
		return errs.E(errs.Entitlement, "the licence key is for %s, which has no RPM repository for %s hosts, so register.sh would configure nothing: no seat was taken; use the key of the product for this host", product.ID, orUnknown(arch))
	}
	return nil
}

func orUnknown(arch string) string {
	if arch == "" {
		return "this architecture's"
	}
	return arch
}

// writeYumRepo answers a registration with the enmei.repo an RPM host of
// arch needs: its repositories that fit, with the new credential, rendered
// by repoconf exactly as the agent renders it (no CA, no proxy: register.sh
// sets neither).
func (s *Server) writeYumRepo(w http.ResponseWriter, r *http.Request, host store.Host, secret string, repos []api.Repo, arch string) {
	fit, _ := repoconf.HostRepos(repos, repoconf.FamilyRPM, arch)
	y := repoconf.Yum{Server: s.baseURL(r)}
	for _, repo := range fit {
		y.Repos = append(y.Repos, repoconf.Repo{Repo: repo, HostID: host.ID, Secret: secret})
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store") // it holds the credential
	w.Write(y.Render())
}

// baseURL is the address hosts reach this server at: the configured public
// URL, else what this request came to.
func (s *Server) baseURL(r *http.Request) string {
	if s.cfg.PublicURL != "" {
		return strings.TrimRight(s.cfg.PublicURL, "/")
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host
}
