package agentrepo

import (
	"context"
	"log/slog"
	"net/http"

	"github.com/enmei-project/enmei/internal/errs"
	"github.com/enmei-project/enmei/internal/shellscript"
	"github.com/enmei-project/enmei/internal/sign"
	"github.com/enmei-project/enmei/internal/store"
)

// Config is what the handlers need.
type Config struct {
	// PublicURL is the server's address as hosts reach it (the load
	// balancer's with replicas); the script points hosts at it.
	PublicURL string
	// PublicKey returns the repositories' public key; errs.NotFound before
	// one exists.
	PublicKey func(ctx context.Context) (*sign.PublicKey, error)
	Repo      func(ctx context.Context, id string) (store.Repo, error)
	Log       *slog.Logger
}

// Register adds GET /install.sh and GET /agent/key.asc to a mux; the
// repositories' files are served by the server, beside the products'.
func Register(handle func(pattern string, h http.Handler), cfg Config) {
	handle("GET /install.sh", http.HandlerFunc(cfg.installScript))
	handle("GET /agent/key.asc", http.HandlerFunc(cfg.key))
}

func (c Config) installScript(w http.ResponseWriter, r *http.Request) {
	published, err := c.published(r.Context())
	if err != nil {
		c.Log.Warn("install.sh: the agent's repositories cannot be read", "err", err)
		http.Error(w, "the server cannot read its agent repository right now: try again in a minute", http.StatusServiceUnavailable)
		return
	}
	if !published {
		shellscript.Headers(w)
		w.Write([]byte(Unpublished))
		return
	}
	shellscript.Serve(w, r, c.Log, c.PublicKey, func(k *sign.PublicKey) ([]byte, error) { return Script(c.PublicURL, k) }, Unpublished)
}

// published reports whether either agent repository has a publication.
func (c Config) published(ctx context.Context) (bool, error) {
	for _, want := range Repos {
		r, err := c.Repo(ctx, want.ID)
		if errs.Is(err, errs.NotFound) {
			continue
		}
		if err != nil {
			return false, err
		}
		if r.ProductID == ProductID && r.Current != 0 {
			return true, nil
		}
	}
	return false, nil
}

func (c Config) key(w http.ResponseWriter, r *http.Request) {
	key, err := c.PublicKey(r.Context())
	if errs.Is(err, errs.NotFound) {
		http.Error(w, "this server has no signing key yet", http.StatusNotFound)
		return
	}
	var armored []byte
	if err == nil {
		armored, err = key.ArmoredPublic()
	}
	if err != nil {
		c.Log.Warn("agent key cannot be read", "err", err)
		http.Error(w, "the server cannot read its signing key right now: try again in a minute", http.StatusServiceUnavailable)
		return
	}
	w.Header().Set("Content-Type", "application/pgp-keys")
	w.Write(armored)
}
