package server

import (
	"context"
	"net/http"

	"github.com/enmei-project/enmei/internal/advisory/scan"
	"github.com/enmei-project/enmei/internal/api"
	"github.com/enmei-project/enmei/internal/repoconf"
	"github.com/enmei-project/enmei/internal/store"
	"github.com/enmei-project/enmei/internal/upgradepath"
)

// upgradePaths serves a host the upgrade-path rules of its product, each
// with the newest version of its package the product's repositories
// publish now, so the agent can refuse an update that would skip a line
// (upgradepath.Check) before dnf or apt starts. Like the repositories, it
// needs a live contract.
func (s *Server) upgradePaths(w http.ResponseWriter, r *http.Request) {
	host, _, err := s.authHost(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	out, err := s.upgradePathsOf(r.Context(), host.ProductID)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	w.Header().Set("Cache-Control", "private, no-cache")
	writeJSON(w, out)
}

// upgradePathsOf is the rules of a product with their Latest filled in.
func (s *Server) upgradePathsOf(ctx context.Context, product string) (api.UpgradePaths, error) {
	out := api.UpgradePaths{Rules: []api.UpgradeRule{}}
	rules, err := s.cfg.Store.UpgradeRules(ctx, product)
	if err != nil || len(rules) == 0 {
		return out, err
	}
	var names []string
	for _, r := range rules {
		names = append(names, r.Package)
	}
	latest, err := s.latestVersions(ctx, product, names)
	if err != nil {
		return out, err
	}
	for _, r := range rules {
		from := r.From
		if from == nil {
			from = []string{}
		}
		out.Rules = append(out.Rules, api.UpgradeRule{Product: r.ProductID, Package: r.Package, To: r.To, From: from,
			Via: r.Via, Note: r.Note, Latest: latest[r.Package]})
	}
	return out, nil
}

// latestVersions finds, for each package name, the newest version (without
// epoch or release) in the current publications of the product's
// repositories, every architecture alike. Only the few records of those
// names are read; a publication's membership comes from its manifest,
// which the server caches anyway.
func (s *Server) latestVersions(ctx context.Context, product string, names []string) (map[string]string, error) {
	out := map[string]string{}
	candidates, err := s.cfg.Store.PackagesByName(ctx, names)
	if err != nil || len(candidates) == 0 {
		return out, err
	}
	byID := make(map[string]store.Package, len(candidates))
	for _, p := range candidates {
		byID[p.ID] = p
	}
	repos, err := s.cfg.Store.Repos(ctx, product)
	if err != nil {
		return nil, err
	}
	newest := map[string]store.Package{}
	for _, repo := range repos {
		if repoconf.IsSource(repo.Arch) {
			continue // source packages are not what a host upgrades to
		}
		// The newest publication, as repomd.xml is served: Latest must
		// describe what dnf or apt will see in the same minute.
		re := s.repoFacts(ctx, repo.ID, true)
		if re.err != nil {
			return nil, re.err
		}
		if re.repo.Current == 0 {
			continue
		}
		m, err := s.manifests.Get(ctx, re.pub.Manifest)
		if err != nil {
			return nil, err
		}
		for _, id := range m.Packages {
			p, ok := byID[id]
			if !ok {
				continue
			}
			if cur, ok := newest[p.Name]; !ok || compareEVR(p.Format, p.Version, cur.Version) > 0 {
				newest[p.Name] = p
			}
		}
	}
	for name, p := range newest {
		out[name] = upgradepath.VersionOf(p.Version)
	}
	return out, nil
}

// compareEVR orders two versions of a package format as its package
// manager does.
func compareEVR(format, a, b string) int {
	if format == "deb" {
		return scan.CompareDeb(a, b)
	}
	return scan.CompareRPM(a, b)
}
