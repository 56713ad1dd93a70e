package upstream

import (
	"bytes"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/ProtonMail/go-crypto/openpgp/packet"
)

func TestLocalPath(t *testing.T) {
	for href, want := range map[string]string{
		"Packages/b/bash-5.1.rpm": "Packages/b/bash-5.1.rpm",
		"./Packages/a.rpm":        "Packages/a.rpm",
		"a.rpm":                   "a.rpm",
		"../a.rpm":                "",
		"Packages/../../a.rpm":    "",
		"Packages/../a.rpm":       "", // harmless, but no honest metadata writes it
		"/etc/passwd":             "",
		"Packages\\..\\a.rpm":     "",
		"":                        "",
		".":                       "",
		"a\x00.rpm":               "",
	} {
		got, err := localPath(href)
		if (err != nil) != (want == "") || got != want {
			t.Errorf("localPath(%q) = %q, %v; want %q", href, got, err, want)
		}
	}
}

func TestProxyFor(t *testing.T) {
	for _, tc := range []struct {
		url  string
		env  map[string]string
		want string
	}{
		{"https://repo.example.org/9/", map[string]string{"HTTPS_PROXY": "http://u:p@proxy:3128", "HTTP_PROXY": "http://other:1"}, "http://u:p@proxy:3128"},
		{"http://repo.example.org/9/", map[string]string{"HTTPS_PROXY": "http://proxy:3128", "http_proxy": "plain:8080"}, "http://plain:8080"},
		{"https://repo.example.org/9/", map[string]string{"HTTPS_PROXY": "http://proxy:3128", "NO_PROXY": "example.org"}, ""},
		{"https://repo.example.org/9/", map[string]string{"https_proxy": "http://proxy:3128", "no_proxy": "localhost,.example.org"}, ""},
		{"https://10.1.2.3/9/", map[string]string{"HTTPS_PROXY": "http://proxy:3128", "NO_PROXY": "10.0.0.0/8"}, ""},
		{"https://repo.example.org/9/", map[string]string{"HTTPS_PROXY": "http://proxy:3128", "NO_PROXY": "other.example"}, "http://proxy:3128"},
		{"https://repo.example.org/9/", nil, ""},
	} {
		u, _ := url.Parse(tc.url)
		if got := proxyFor(u, func(k string) string { return tc.env[k] }); got != tc.want {
			t.Errorf("proxyFor(%s, %v) = %q, want %q", tc.url, tc.env, got, tc.want)
		}
	}
}

// TestExpiredKey: a distribution key that expired after the end of life
// still vouches for what it signed while valid; a revoked key and a stranger's
// do not.
func TestExpiredKey(t *testing.T) {
	created := time.Now().Add(-48 * time.Hour)
	cfg := &packet.Config{Algorithm: packet.PubKeyAlgoEdDSA, KeyLifetimeSecs: 24 * 3600, Time: func() time.Time { return created }}
	key, err := openpgp.NewEntity("Old Distribution", "", "old@example.com", cfg)
	if err != nil {
		t.Fatal(err)
	}
	data := []byte("<repomd/>")
	var sig bytes.Buffer
	signedAt := &packet.Config{Time: func() time.Time { return created.Add(time.Hour) }}
	if err := openpgp.DetachSign(&sig, key, bytes.NewReader(data), signedAt); err != nil {
		t.Fatal(err)
	}
	if err := verifyDetached(openpgp.EntityList{key}, data, sig.Bytes()); err != nil {
		t.Errorf("signature made while the key was valid: %v", err)
	}
	if err := verifyDetached(openpgp.EntityList{key}, []byte("<repomd>"), sig.Bytes()); err == nil || !strings.Contains(err.Error(), "does not verify") {
		t.Errorf("altered data: %v", err)
	}

	stranger, err := openpgp.NewEntity("Stranger", "", "s@example.com", &packet.Config{Algorithm: packet.PubKeyAlgoEdDSA})
	if err != nil {
		t.Fatal(err)
	}
	if err := verifyDetached(openpgp.EntityList{stranger}, data, sig.Bytes()); err == nil || !strings.Contains(err.Error(), "not the upstream key given") {
		t.Errorf("stranger's keyring: %v", err)
	}

	if err := key.RevokeKey(packet.KeyCompromised, "lost", nil); err != nil {
		t.Fatal(err)
	}
	if err := verifyDetached(openpgp.EntityList{key}, data, sig.Bytes()); err == nil || !strings.Contains(err.Error(), "revoked") {
		t.Errorf("revoked key: %v", err)
	}
}
