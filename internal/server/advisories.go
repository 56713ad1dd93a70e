package server

import (
	"context"
	"fmt"
	"net/http"
	"strconv"

	"github.com/enmei-project/enmei/internal/advisory"
	"github.com/enmei-project/enmei/internal/api"
	"github.com/enmei-project/enmei/internal/errs"
	"github.com/enmei-project/enmei/internal/tracker"
)

// Tracker is the security tracker the advisory API reads.
type Tracker interface {
	Snapshot(ctx context.Context) (*tracker.Snapshot, error)
}

// advisories serves a host the released advisories and CVE statuses of its
// product. The ETag is the tracker sequence, so an agent that has
// everything gets 304 without the server building anything; with since=
// it gets only what changed after the sequence it holds.
func (s *Server) advisories(w http.ResponseWriter, r *http.Request) {
	host, _, err := s.authHost(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if s.cfg.Tracker == nil {
		s.fail(w, r, errs.E(errs.NotFound, "this server has no security tracker"))
		return
	}
	product := host.ProductID
	if p := r.URL.Query().Get("product"); p != "" && p != product {
		s.fail(w, r, errs.E(errs.Forbidden, "this host is registered for %s, not %s", product, p))
		return
	}
	var since int64
	if v := r.URL.Query().Get("since"); v != "" {
		if since, err = strconv.ParseInt(v, 10, 64); err != nil || since < 0 {
			s.fail(w, r, errs.E(errs.Invalid, "since=%q is not a tracker sequence number", v))
			return
		}
	}
	sn, err := s.cfg.Tracker.Snapshot(r.Context())
	if err != nil {
		s.fail(w, r, err)
		return
	}
	etag := fmt.Sprintf(`"trk-%s-%d-%d"`, product, sn.Seq, since)
	w.Header().Set("ETag", etag)
	w.Header().Set("Cache-Control", "private, no-cache")
	if r.Header.Get("If-None-Match") == etag || since >= sn.Seq {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	writeJSON(w, AdvisoriesOf(sn, product, since))
}

// AdvisoriesOf is the advisory data of a product changed after since.
func AdvisoriesOf(sn *tracker.Snapshot, product string, since int64) api.Advisories {
	out := api.Advisories{Product: product, Seq: sn.Seq, Since: since, Advisories: []advisory.Advisory{}, Records: []api.CVERecord{}}
	for _, a := range sn.Released {
		if a.Seq <= since {
			continue
		}
		var pkgs []advisory.Package
		for _, p := range a.Packages {
			if sn.RepoProduct(p.Repo) == product {
				pkgs = append(pkgs, p)
			}
		}
		if len(pkgs) == 0 {
			continue
		}
		a.Packages = pkgs
		out.Advisories = append(out.Advisories, a)
	}
	for _, r := range sn.Records {
		if r.Product != product || r.Seq <= since {
			continue
		}
		out.Records = append(out.Records, api.CVERecord{CVE: r.CVE, Status: string(r.Status), Statement: r.Statement,
			Score: r.Score, Published: r.Published, Packages: r.Packages, Fixed: r.Fixed})
	}
	return out
}
