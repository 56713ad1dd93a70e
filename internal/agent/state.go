package agent

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/enmei-project/enmei/internal/api"
	"github.com/enmei-project/enmei/internal/errs"
)

// stateVersion is the host.json format this agent writes. Version 1 (no
// "version" field) held one registration in top-level fields.
const stateVersion = 2

// HostState is /etc/enmei/host.json (0600): the server the host talks to,
// every registration (one per licence key, each with its own seat and
// credential), and every file register wrote, so unregister removes exactly
// those.
//
// HostID, Secret, SupportID and Product repeat the first registration in the
// version 1 layout, so an older agent and scripts reading host.json keep
// working; they are ignored on reading when Registrations is present.
type HostState struct {
	Version       int            `json:"version"`
	Server        string         `json:"server"`
	Family        string         `json:"family"`
	CA            bool           `json:"ca,omitempty"`          // a CA was given; its copy is /etc/enmei/ca.pem
	Proxy         string         `json:"proxy,omitempty"`       // the proxy register used, with its credentials
	Fingerprint   string         `json:"fingerprint,omitempty"` // of SigningKey
	SigningKey    string         `json:"signing_key,omitempty"` // armored, to rewrite the files after unregister --product
	Registrations []Registration `json:"registrations"`
	Files         []string       `json:"files"` // host paths, "/etc/…"
	// MachineID is the identity generated for a host without
	// /etc/machine-id (a container), so registering again keeps its seat.
	MachineID string `json:"machine_id,omitempty"`
	// AuthConfBlock: the apt credentials are in enmei's managed block of
	// /etc/apt/auth.conf (apt before 1.5 reads no auth.conf.d), which is
	// not in Files since the file is the user's too; AuthConfCreated:
	// enmei created that file, so unregister removes it when nothing else
	// is left in it.
	AuthConfBlock   bool `json:"auth_conf_block,omitempty"`
	AuthConfCreated bool `json:"auth_conf_created,omitempty"`

	HostID    string `json:"host_id"`
	Secret    string `json:"secret"`
	SupportID string `json:"support_id"`
	Product   string `json:"product"`
}

// Registration is one licence key's seat on this host.
type Registration struct {
	HostID    string     `json:"host_id"`
	Secret    string     `json:"secret"`
	SupportID string     `json:"support_id"`
	Product   string     `json:"product"`
	Repos     []api.Repo `json:"repos"` // the repositories written for it
	// legacy: read from a version 1 host.json, which did not record the
	// repositories; register asks the server for them before rewriting.
	legacy bool
}

// LoadState reads <root>/etc/enmei/host.json in either format; a missing
// file is a NotFound error saying the host is not registered.
func LoadState(root string) (*HostState, error) {
	data, err := os.ReadFile(filepath.Join(root, statePath))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, errs.E(errs.NotFound, "this host is not registered (there is no %s): run enmei register --server URL --key KEY first", statePath)
	}
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", statePath, err)
	}
	damaged := errs.E(errs.Invalid, "%s is damaged: run enmei register --server URL --key KEY again", statePath)
	var s HostState
	if err := json.Unmarshal(data, &s); err != nil || s.Server == "" {
		return nil, damaged
	}
	if s.Registrations == nil {
		if s.HostID == "" {
			return nil, damaged
		}
		s.Registrations = []Registration{{HostID: s.HostID, Secret: s.Secret, SupportID: s.SupportID, Product: s.Product, legacy: true}}
	}
	for _, r := range s.Registrations {
		if r.HostID == "" || r.Secret == "" {
			return nil, damaged
		}
	}
	return &s, nil
}

// encode is host.json's content, with the version 1 fields mirroring the
// first registration.
func (s *HostState) encode() ([]byte, error) {
	out := *s
	out.Version = stateVersion
	out.HostID, out.Secret, out.SupportID, out.Product = "", "", "", ""
	if len(s.Registrations) > 0 {
		r := s.Registrations[0]
		out.HostID, out.Secret, out.SupportID, out.Product = r.HostID, r.Secret, r.SupportID, r.Product
	}
	for i := range out.Registrations {
		if out.Registrations[i].Repos == nil {
			out.Registrations[i].Repos = []api.Repo{}
		}
	}
	data, err := json.MarshalIndent(out, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("encoding %s: %w", statePath, err)
	}
	return append(data, '\n'), nil
}

// files renders every file the state describes: the package-manager
// configuration for the repositories of all registrations (each with its
// own credential), the CA copy when caPEM is given, and host.json itself,
// last, since it is the record of a complete registration. With
// s.AuthConfBlock the apt credentials are merged into root's
// /etc/apt/auth.conf. It sets s.Files (and clears s.AuthConfBlock when no
// credentials are written).
func (s *HostState) files(root string, caPEM []byte) ([]file, error) {
	var repos []hostRepo
	seen := map[string]bool{}
	for _, r := range s.Registrations {
		for _, repo := range r.Repos {
			// Two contracts for one product grant the same repository;
			// one section of it is enough (and dnf refuses two).
			if seen[repo.ID] {
				continue
			}
			seen[repo.ID] = true
			repos = append(repos, hostRepo{Repo: repo, hostID: r.HostID, secret: r.Secret})
		}
	}
	s.AuthConfBlock = s.AuthConfBlock && s.Family == FamilyDeb && len(repos) > 0
	set := settings{server: s.Server, ca: s.CA, proxy: proxyURL(s.Proxy), repos: repos, armored: s.SigningKey, authConf: s.AuthConfBlock}
	var out []file
	switch {
	case len(repos) == 0:
		// Nothing to configure: an empty sources file only makes apt warn.
	case s.Family == FamilyRPM:
		out = yumFiles(set)
	default:
		var err error
		if out, err = aptFiles(set); err != nil {
			return nil, err
		}
	}
	for i, f := range out {
		if f.path != aptAuthConf {
			continue
		}
		merged, created, err := authConfFile(root, string(f.data))
		if err != nil {
			return nil, err
		}
		out[i] = merged
		s.AuthConfCreated = s.AuthConfCreated || created
	}
	if !s.AuthConfBlock {
		s.AuthConfCreated = false
	}
	if caPEM != nil {
		out = append(out, file{caPath, caPEM, 0o644})
	}
	s.Files = nil
	for _, f := range out {
		if f.path != aptAuthConf { // the user's file too: never removed whole
			s.Files = append(s.Files, f.path)
		}
	}
	if s.CA && caPEM == nil {
		s.Files = append(s.Files, caPath) // kept as it is
	}
	s.Files = append(s.Files, statePath)
	sort.Strings(s.Files)
	data, err := s.encode()
	if err != nil {
		return nil, err
	}
	return append(out, file{statePath, data, 0o600}), nil
}

// registered loads host.json and makes the API client it describes.
func (a *app) registered() (*HostState, *client, error) {
	st, err := LoadState(a.root)
	if err != nil {
		return nil, nil, err
	}
	c, err := st.client(a.root, a.env)
	if err != nil {
		return nil, nil, err
	}
	return st, c, nil
}

// client makes the API client host.json describes: its server, its CA copy
// and its proxy (or, when register used none, the environment's).
func (s *HostState) client(root string, env func(string) string) (*client, error) {
	ca := ""
	if s.CA {
		ca = filepath.Join(root, caPath)
	}
	proxy := s.Proxy
	if proxy == "" {
		proxy = proxyFor(s.Server, "", env)
	}
	return newClient(s.Server, ca, proxy)
}

// sameServer reports whether two server URLs name the same server (scheme
// and host case-insensitively, default ports spelled or not).
func sameServer(a, b string) bool {
	norm := func(s string) string {
		u, err := url.Parse(strings.TrimRight(strings.TrimSpace(s), "/"))
		if err != nil {
			return s
		}
		scheme, host, port := strings.ToLower(u.Scheme), strings.ToLower(u.Hostname()), u.Port()
		if port == "" {
			port = map[string]string{"http": "80", "https": "443"}[scheme]
		}
		return scheme + "://" + host + ":" + port + strings.TrimRight(u.Path, "/")
	}
	return norm(a) == norm(b)
}
