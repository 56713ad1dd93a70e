package registersh

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/enmei-project/enmei/internal/errs"
	"github.com/enmei-project/enmei/internal/sign"
)

func TestScript(t *testing.T) {
	key, err := sign.Generate("t", "t@example.jp", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	pub := key.PublicKey()
	armored, _ := pub.ArmoredPublic()
	b, err := Script("https://els.example.jp/it's/", pub)
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	for _, want := range []string{
		"#!/bin/sh\n", `server='https://els.example.jp/it'\''s'` + "\n",
		"fingerprint='" + sign.FormatFingerprint(pub.Fingerprint()) + "'\n",
		strings.TrimSpace(string(armored)) + "\nENMEI_KEY\n",
		"repo_file=/etc/yum.repos.d/enmei.repo\n", "key_file=/etc/pki/rpm-gpg/RPM-GPG-KEY-enmei\n",
		"state_file=/etc/enmei/register.conf\n", "/api/v1/register?format=yum-repo",
	} {
		if !strings.Contains(s, want) {
			t.Errorf("register.sh lacks %q", want)
		}
	}
	if strings.Contains(s, "@@") {
		t.Error("register.sh has a template field left")
	}
	for _, sh := range [][]string{{"dash", "-n"}, {"busybox", "sh", "-n"}} {
		cmd := exec.Command(sh[0], append(sh[1:], "/dev/stdin")...)
		cmd.Stdin = strings.NewReader(s)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("%s: %v\n%s", strings.Join(sh, " "), err, out)
		}
	}
}

func TestHandler(t *testing.T) {
	mux := http.NewServeMux()
	var keyErr error
	Register(mux.Handle, Config{PublicURL: "https://els.example.jp", Log: slog.New(slog.DiscardHandler),
		PublicKey: func(context.Context) (*sign.PublicKey, error) { return nil, keyErr }})
	get := func() (int, string) {
		rec := httptest.NewRecorder()
		mux.ServeHTTP(rec, httptest.NewRequest("GET", "/register.sh", nil))
		body, _ := io.ReadAll(rec.Body)
		return rec.Code, string(body)
	}
	keyErr = errs.E(errs.NotFound, "no key")
	if code, body := get(); code != 200 || body != NoKey {
		t.Errorf("before a signing key: %d %q", code, body)
	}
	// A script that says so and fails, under sh.
	out, err := exec.Command("dash", "-c", NoKey).CombinedOutput()
	if err == nil || !strings.Contains(string(out), "no signing key yet") {
		t.Errorf("the no-key script: %v %s", err, out)
	}
	keyErr = errors.New("database down")
	if code, _ := get(); code != http.StatusServiceUnavailable {
		t.Errorf("a key that cannot be read: %d, want 503", code)
	}
}
