// Package registersh is GET /register.sh: a POSIX shell registration for
// RPM hosts that cannot run the enmei agent (EL6, whose kernel 2.6.32 is too
// old for current Go programs). enmeid serves it without credentials, like
// /install.sh, with its public URL and its armored signing key written in;
// the script takes a seat with POST /api/v1/register?format=yum-repo, whose
// answer is the ready enmei.repo the agent would write (rendered by the same
// code, internal/repoconf), writes it and the signing key, and with
// --unregister gives the seat back.
package registersh

import (
	"context"
	_ "embed"
	"log/slog"
	"net/http"

	"github.com/enmei-project/enmei/internal/repoconf"
	"github.com/enmei-project/enmei/internal/shellscript"
	"github.com/enmei-project/enmei/internal/sign"
)

//go:embed register.sh
var script string

var scriptTmpl = shellscript.Parse("register.sh", script)

// Script returns /register.sh for a server reachable at publicURL whose
// repositories are signed by key.
func Script(publicURL string, key *sign.PublicKey) ([]byte, error) {
	return shellscript.Render(scriptTmpl, publicURL, key, map[string]string{
		"RepoPath":       repoconf.YumRepoPath,
		"KeyPath":        repoconf.RPMKeyPath,
		"StatePath":      StatePath,
		"AgentStatePath": "/etc/enmei/host.json",
	})
}

// StatePath is where the script keeps its seat's credential (the agent
// refuses to register over it).
const StatePath = "/etc/enmei/register.conf"

// NoKey is /register.sh before the server has a signing key: a script that
// says so, so `curl … | sh` tells the user rather than failing half-way.
const NoKey = `#!/bin/sh
echo "register.sh: this server has no signing key yet, so it publishes no repository to register for (its vendor makes one with: enmeid signing-key generate); ask your vendor" >&2
exit 1
`

// Config is what the handler needs.
type Config struct {
	// PublicURL is the server's address as hosts reach it.
	PublicURL string
	// PublicKey returns the repositories' public key; errs.NotFound before
	// one exists.
	PublicKey func(ctx context.Context) (*sign.PublicKey, error)
	Log       *slog.Logger
}

// Register adds GET /register.sh to a mux.
func Register(handle func(pattern string, h http.Handler), cfg Config) {
	handle("GET /register.sh", http.HandlerFunc(cfg.serve))
}

func (c Config) serve(w http.ResponseWriter, r *http.Request) {
	shellscript.Serve(w, r, c.Log, c.PublicKey, func(k *sign.PublicKey) ([]byte, error) { return Script(c.PublicURL, k) }, NoKey)
}
