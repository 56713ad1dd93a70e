package upstream

import (
	"bytes"
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
