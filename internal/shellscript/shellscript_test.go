package shellscript

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http/httptest"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/enmei-project/enmei/internal/errs"
	"github.com/enmei-project/enmei/internal/sign"
)

func TestQuoteSurvivesTheShell(t *testing.T) {
	for _, s := range []string{"https://els.example.jp", "it's", `a"b$c` + "`d`", "x'; rm -rf /; '"} {
		out, err := exec.Command("sh", "-c", "printf %s "+Quote(s)).Output()
		if err != nil || string(out) != s {
			t.Errorf("sh read %s as %q (%v), want %q", Quote(s), out, err, s)
		}
	}
}

func TestRenderAndServe(t *testing.T) {
	key, err := sign.Generate("shellscript test", "t@example.jp", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	pub := key.PublicKey()
	tmpl := Parse("t.sh", "server=@@.Server@@\nfpr=@@.Fingerprint@@\nextra=@@.Extra@@\n@@.Key@@\n")
	render := func(k *sign.PublicKey) ([]byte, error) {
		return Render(tmpl, "https://els.example.jp/", k, map[string]string{"Extra": "x"})
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	serve := func(keyErr error) *httptest.ResponseRecorder {
		w := httptest.NewRecorder()
		Serve(w, httptest.NewRequest("GET", "/t.sh", nil), log, func(context.Context) (*sign.PublicKey, error) {
			if keyErr != nil {
				return nil, keyErr
			}
			return pub, nil
		}, render, "echo none\n")
		return w
	}
	w := serve(nil)
	body := w.Body.String()
	for _, want := range []string{"server='https://els.example.jp'", "fpr=" + sign.FormatFingerprint(pub.Fingerprint()), "extra=x", "BEGIN PGP PUBLIC KEY BLOCK"} {
		if !strings.Contains(body, want) {
			t.Errorf("script lacks %q:\n%s", want, body)
		}
	}
	if ct := w.Header().Get("Content-Type"); !strings.HasPrefix(ct, "text/x-shellscript") || w.Header().Get("Cache-Control") != "no-cache" {
		t.Errorf("headers %v", w.Header())
	}
	if w := serve(errs.E(errs.NotFound, "no key")); w.Code != 200 || w.Body.String() != "echo none\n" {
		t.Errorf("without a key: %d %q, want the fallback script", w.Code, w.Body.String())
	}
	if w := serve(errors.New("database down")); w.Code != 503 {
		t.Errorf("key unreadable: %d, want 503", w.Code)
	}
}
