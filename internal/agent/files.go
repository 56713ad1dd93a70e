package agent

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/enmei-project/enmei/internal/errs"
)

// state is /etc/enmei/host.json: what the host needs to talk to the server
// later, and every file register wrote, so unregister can remove them.
type state struct {
	Server    string   `json:"server"`
	HostID    string   `json:"host_id"`
	Secret    string   `json:"secret"`
	SupportID string   `json:"support_id"`
	Product   string   `json:"product"`
	Family    string   `json:"family"`
	CA        bool     `json:"ca,omitempty"`
	Proxy     string   `json:"proxy,omitempty"`
	Files     []string `json:"files"`
}

func loadState(root string) (*state, error) {
	data, err := os.ReadFile(filepath.Join(root, statePath))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, errs.E(errs.NotFound, "this host is not registered (no %s): run enmei register", statePath)
	}
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", statePath, err)
	}
	var s state
	if err := json.Unmarshal(data, &s); err != nil {
		return nil, errs.E(errs.Invalid, "%s is damaged: run enmei register again", statePath)
	}
	return &s, nil
}

// writeFiles writes every file atomically: all are staged as temporary files
// first, then renamed into place, so a failure leaves the old files whole.
func writeFiles(root string, files []file) error {
	type staged struct{ tmp, final string }
	var done []staged
	cleanup := func() {
		for _, s := range done {
			os.Remove(s.tmp)
		}
	}
	for _, f := range files {
		final := filepath.Join(root, f.path)
		if err := os.MkdirAll(filepath.Dir(final), 0o755); err != nil {
			cleanup()
			return fmt.Errorf("creating %s: %w", filepath.Dir(f.path), err)
		}
		tmp, err := os.CreateTemp(filepath.Dir(final), ".enmei-*")
		if err != nil {
			cleanup()
			return fmt.Errorf("writing %s: %w", f.path, err)
		}
		done = append(done, staged{tmp.Name(), final})
		// Chmod before writing, so secrets are never readable by others.
		err = tmp.Chmod(fs.FileMode(f.mode))
		if err == nil {
			_, err = tmp.Write(f.data)
		}
		if err == nil {
			err = tmp.Sync()
		}
		if cerr := tmp.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			cleanup()
			return fmt.Errorf("writing %s: %w", f.path, err)
		}
	}
	for _, s := range done {
		if err := os.Rename(s.tmp, s.final); err != nil {
			cleanup()
			return fmt.Errorf("installing %s: %w", s.final, err)
		}
	}
	return nil
}

func copyAll(w io.Writer, r io.Reader) (int64, error) { return io.Copy(w, r) }
