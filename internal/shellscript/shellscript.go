// Package shellscript serves the POSIX shell scripts hosts pipe into sh
// (/install.sh, /register.sh): each is a template with @@ delimiters into
// which the server's public URL and its repositories' armored signing key
// are written, so a host trusts what came over the one connection it chose
// to trust. Before the server has a key it answers a script that says so,
// rather than one that fails half-way through `curl … | sh`.
package shellscript

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"text/template"

	"github.com/enmei-project/enmei/internal/errs"
	"github.com/enmei-project/enmei/internal/sign"
)

// Parse parses a script template with @@ delimiters (shell uses {{ }} and $).
func Parse(name, text string) *template.Template {
	return template.Must(template.New(name).Delims("@@", "@@").Parse(text))
}

// Render writes the script for a server reachable at publicURL whose
// repositories key signs: the template gets Server (shell-quoted),
// Fingerprint and Key (armored), and the extra values.
func Render(t *template.Template, publicURL string, key *sign.PublicKey, extra map[string]string) ([]byte, error) {
	armored, err := key.ArmoredPublic()
	if err != nil {
		return nil, err
	}
	values := map[string]string{
		"Server":      Quote(strings.TrimRight(publicURL, "/")),
		"Fingerprint": sign.FormatFingerprint(key.Fingerprint()),
		"Key":         strings.TrimSpace(string(armored)),
	}
	for k, v := range extra {
		values[k] = v
	}
	var b bytes.Buffer
	if err := t.Execute(&b, values); err != nil {
		return nil, fmt.Errorf("writing %s: %w", t.Name(), err)
	}
	return b.Bytes(), nil
}

// Quote quotes s for a POSIX shell.
func Quote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }

// Serve answers a request for the script render makes with the server's
// key, or fallback while the server has no key (errs.NotFound), or 503
// when the key cannot be read.
func Serve(w http.ResponseWriter, r *http.Request, log *slog.Logger, key func(context.Context) (*sign.PublicKey, error), render func(*sign.PublicKey) ([]byte, error), fallback string) {
	Headers(w)
	k, err := key(r.Context())
	if errs.Is(err, errs.NotFound) {
		w.Write([]byte(fallback))
		return
	}
	if err == nil {
		var b []byte
		if b, err = render(k); err == nil {
			w.Write(b)
			return
		}
	}
	log.Warn("a shell script cannot be written", "path", r.URL.Path, "err", err)
	http.Error(w, "the server cannot read its signing key right now: try again in a minute", http.StatusServiceUnavailable)
}

// Headers are a script answer's: shell text, never cached (the key or the
// address may change).
func Headers(w http.ResponseWriter) {
	w.Header().Set("Content-Type", "text/x-shellscript; charset=utf-8")
	w.Header().Set("Cache-Control", "no-cache")
}
