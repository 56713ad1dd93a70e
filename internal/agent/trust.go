package agent

import (
	"encoding/hex"
	"fmt"
	"net"
	"net/url"
	"strings"

	"github.com/ProtonMail/go-crypto/openpgp"
)

// keyFingerprint is the upper-case hex fingerprint of the one OpenPGP
// public key in armored. More than one key (or armor block, of which the
// parser reads only the first) is refused: dnf trusts every key in the
// file, so a second one could slip in unchecked.
func keyFingerprint(armored string) (string, error) {
	if n := strings.Count(armored, "-----BEGIN PGP"); n != 1 {
		return "", fmt.Errorf("the signing key file holds %d armor blocks, not one", n)
	}
	el, err := openpgp.ReadArmoredKeyRing(strings.NewReader(armored))
	if err != nil {
		return "", fmt.Errorf("the signing key is not an armored OpenPGP public key: %w", err)
	}
	if len(el) != 1 || el[0].PrimaryKey == nil {
		return "", fmt.Errorf("the signing key file holds %d keys, not one", len(el))
	}
	return strings.ToUpper(hex.EncodeToString(el[0].PrimaryKey.Fingerprint)), nil
}

// parseFingerprint normalises --fingerprint: 40 hex digits, spaces ignored,
// any case.
func parseFingerprint(s string) (string, error) {
	f := strings.ToUpper(strings.Join(strings.Fields(s), ""))
	if _, err := hex.DecodeString(f); err != nil || len(f) != 40 {
		return "", usageErr("--fingerprint %q is not an OpenPGP fingerprint: give the 40 hex digits the vendor published, spaces allowed", s)
	}
	return f, nil
}

// groupFingerprint writes a fingerprint in groups of four, as people read
// it aloud and as gpg prints it.
func groupFingerprint(f string) string {
	var groups []string
	for len(f) > 4 {
		groups = append(groups, f[:4])
		f = f[4:]
	}
	return strings.Join(append(groups, f), " ")
}

// isLoopback reports whether the URL's host is this machine, the only place
// plain http cannot be read or changed on the way.
func isLoopback(u *url.URL) bool {
	h := strings.TrimSuffix(strings.ToLower(u.Hostname()), ".")
	if h == "localhost" || strings.HasSuffix(h, ".localhost") {
		return true
	}
	ip := net.ParseIP(h)
	return ip != nil && ip.IsLoopback()
}
