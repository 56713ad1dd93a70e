package agent

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/enmei-project/enmei/internal/errs"
)

// HostState is /etc/enmei/host.json: what the host needs to talk to the
// server later, and every file register wrote, so unregister removes
// exactly those.
type HostState struct {
	Server    string   `json:"server"`
	HostID    string   `json:"host_id"`
	Secret    string   `json:"secret"`
	SupportID string   `json:"support_id"`
	Product   string   `json:"product"`
	Family    string   `json:"family"`
	CA        bool     `json:"ca,omitempty"`    // a CA was given; its copy is /etc/enmei/ca.pem
	Proxy     string   `json:"proxy,omitempty"` // the proxy register used, with its credentials
	Files     []string `json:"files"`           // host paths, "/etc/…"
}

// LoadState reads <root>/etc/enmei/host.json; a missing file is a NotFound
// error saying the host is not registered.
func LoadState(root string) (*HostState, error) {
	data, err := os.ReadFile(filepath.Join(root, statePath))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, errs.E(errs.NotFound, "this host is not registered (there is no %s): run enmei register --server URL --key KEY first", statePath)
	}
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", statePath, err)
	}
	var s HostState
	if err := json.Unmarshal(data, &s); err != nil || s.Server == "" || s.HostID == "" {
		return nil, errs.E(errs.Invalid, "%s is damaged: run enmei register --server URL --key KEY again", statePath)
	}
	return &s, nil
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
