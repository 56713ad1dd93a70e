package apt

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/ProtonMail/go-crypto/openpgp/armor"
	"github.com/ProtonMail/go-crypto/openpgp/clearsign"
	pgperrors "github.com/ProtonMail/go-crypto/openpgp/errors"
	"github.com/ProtonMail/go-crypto/openpgp/packet"

	"github.com/enmei-project/enmei/internal/errs"
)

const (
	// maxRelease bounds InRelease and Release: Debian's and Ubuntu's are
	// a few hundred kilobytes.
	maxRelease = 64 << 20
	// maxSignature bounds Release.gpg, a handful of signature packets.
	maxSignature = 1 << 20
)

// fetchRelease fetches InRelease, or Release and Release.gpg when the
// suite has no InRelease, verifies the signature unless Keyring is nil,
// and parses the signed text.
func (s *Source) fetchRelease(ctx context.Context, g Getter, base *url.URL) (*Release, error) {
	dir := "dists/" + s.Suite + "/"
	if s.Keyring != nil && len(s.Keyring) == 0 {
		return nil, errs.E(errs.Invalid, "the keyring given to verify %s holds no key: pass the repository's public signing key", s.suiteURL(base))
	}
	inURL := fileURL(base, dir+"InRelease")
	data, found, err := fetchSmall(ctx, g, inURL, maxRelease)
	if err != nil {
		return nil, err
	}
	var text []byte
	var signer string
	if found {
		text, signer, err = s.openInRelease(data, redact(inURL))
		if err != nil {
			return nil, err
		}
	} else {
		relURL := fileURL(base, dir+"Release")
		text, found, err = fetchSmall(ctx, g, relURL, maxRelease)
		if err != nil {
			return nil, err
		}
		if !found {
			return nil, errs.E(errs.NotFound, "%s has neither InRelease nor Release: check the URL (the directory holding dists/) and the suite", s.suiteURL(base))
		}
		if s.Keyring != nil {
			gpgURL := fileURL(base, dir+"Release.gpg")
			sig, found, err := fetchSmall(ctx, g, gpgURL, maxSignature)
			if err != nil {
				return nil, err
			}
			if !found {
				return nil, errs.E(errs.Invalid, "%s has no InRelease and its Release is not signed (no Release.gpg): the suite cannot be verified; mirror it only without a keyring, if you trust the connection", s.suiteURL(base))
			}
			if bytes.HasPrefix(bytes.TrimSpace(sig), []byte("-----BEGIN")) {
				blk, err := armor.Decode(bytes.NewReader(sig))
				if err != nil || blk.Type != openpgp.SignatureType {
					return nil, errs.E(errs.Invalid, "%s is not an OpenPGP signature: the mirror serves a damaged file; try again or use another mirror", redact(gpgURL))
				}
				if sig, err = readAllLimit(blk.Body, maxSignature); err != nil {
					return nil, errs.E(errs.Invalid, "%s is damaged (%v): try again or use another mirror", redact(gpgURL), err)
				}
			}
			if signer, err = s.verify(text, sig, redact(relURL)); err != nil {
				return nil, err
			}
		}
	}
	rel, err := parseRelease(text)
	if err != nil {
		return nil, errs.E(errs.Invalid, "the Release of %s cannot be read: %v", s.suiteURL(base), err)
	}
	rel.Signed, rel.SignedBy = signer != "", signer
	return rel, nil
}

// openInRelease returns the signed text of a clear-signed InRelease.
// Anything around the signed message is refused: apt reads only the
// signed part, and text outside it could be taken for Release fields by a
// careless reader.
func (s *Source) openInRelease(data []byte, name string) (text []byte, signer string, err error) {
	const begin = "-----BEGIN PGP SIGNED MESSAGE-----"
	i := bytes.Index(data, []byte(begin))
	blk, rest := clearsign.Decode(data)
	if i < 0 || blk == nil || len(bytes.TrimSpace(data[:i])) > 0 || len(bytes.TrimSpace(rest)) > 0 {
		return nil, "", errs.E(errs.Invalid, "%s is not one clear-signed message: the mirror serves a damaged or altered file; try again or use another mirror", name)
	}
	if s.Keyring == nil {
		return blk.Plaintext, "", nil
	}
	if blk.ArmoredSignature.Type != openpgp.SignatureType {
		return nil, "", errs.E(errs.Invalid, "%s carries no signature block: the mirror serves a damaged file; try again or use another mirror", name)
	}
	sig, err := readAllLimit(blk.ArmoredSignature.Body, maxSignature)
	if err != nil {
		return nil, "", errs.E(errs.Invalid, "the signature of %s is damaged (%v): try again or use another mirror", name, err)
	}
	signer, err = s.verify(blk.Bytes, sig, name)
	if err != nil {
		return nil, "", err
	}
	return blk.Plaintext, signer, nil
}

// verify checks the detached signature packets sig over signed with the
// keyring and returns the signer's fingerprint. Its errors say which key
// signed and what is wrong with it, since the fix (another key file, a
// refreshed key) depends on that.
func (s *Source) verify(signed, sig []byte, name string) (string, error) {
	cfg := &packet.Config{Time: s.now}
	_, signer, err := openpgp.VerifyDetachedSignature(s.Keyring, bytes.NewReader(signed), bytes.NewReader(sig), cfg)
	by := strings.Join(issuers(sig), ", ")
	if by == "" {
		by = "an unnamed key"
	} else {
		by = "key " + by
	}
	if signer != nil {
		by = "key " + fingerprint(signer)
	}
	switch {
	case err == nil:
		return fingerprint(signer), nil
	case errors.Is(err, pgperrors.ErrUnknownIssuer):
		return "", errs.E(errs.Invalid, "%s is signed by %s, which is not in the keyring given: pass the repository's own signing key (for Debian, the debian-archive-keyring key of that release)", name, by)
	case errors.Is(err, pgperrors.ErrKeyExpired):
		return "", errs.E(errs.Invalid, "%s is signed by %s, which has expired: get the repository's current key, or check the clock", name, by)
	case errors.Is(err, pgperrors.ErrKeyRevoked):
		return "", errs.E(errs.Invalid, "%s is signed by %s, which has been revoked: do not mirror it until the repository is re-signed with a valid key", name, by)
	case errors.Is(err, pgperrors.ErrSignatureExpired):
		return "", errs.E(errs.Invalid, "the signature of %s by %s has expired: the mirror serves an old copy; try again later or use another mirror", name, by)
	}
	return "", errs.E(errs.Invalid, "the signature of %s by %s does not verify (%v): the file was altered or damaged on the way; try again or use another mirror", name, by, err)
}

// issuers names the keys that made the signature packets in sig: their
// fingerprints when the packets carry them, else their 64-bit key IDs.
func issuers(sig []byte) []string {
	var out []string
	r := packet.NewReader(bytes.NewReader(sig))
	for {
		p, err := r.Next()
		if err != nil {
			return out
		}
		switch sp := p.(type) {
		case *packet.Signature:
			if len(sp.IssuerFingerprint) > 0 {
				out = append(out, strings.ToUpper(hex.EncodeToString(sp.IssuerFingerprint)))
			} else if sp.IssuerKeyId != nil {
				out = append(out, fmt.Sprintf("%016X", *sp.IssuerKeyId))
			}
		}
	}
}

func fingerprint(e *openpgp.Entity) string {
	return strings.ToUpper(hex.EncodeToString(e.PrimaryKey.Fingerprint))
}

// checkRelease refuses a Release for another suite, and one past its
// Valid-Until unless the source allows that: a mirror (or an attacker)
// replaying an old, validly signed Release would otherwise freeze the
// mirror on packages with known holes.
func (s *Source) checkRelease(base *url.URL, rel *Release) error {
	if rel.Suite != s.Suite && rel.Codename != s.Suite {
		return errs.E(errs.Invalid, "the Release of %s is for suite %q (codename %q), not %q: the mirror serves another suite there; check the suite asked for or the mirror", s.suiteURL(base), rel.Suite, rel.Codename, s.Suite)
	}
	if rel.ValidUntil == "" || s.AllowExpired {
		return nil
	}
	until, err := parseDate(rel.ValidUntil)
	if err != nil {
		return errs.E(errs.Invalid, "the Release of %s has a Valid-Until that is not a date (%q): the file is damaged; try another mirror", s.suiteURL(base), rel.ValidUntil)
	}
	if now := s.now(); now.After(until) {
		return errs.E(errs.Invalid, "the Release of %s expired on %s (its Valid-Until): the mirror may serve a stale copy; try another mirror, or pass --allow-expired if this is a frozen suite its distribution no longer re-signs", s.suiteURL(base), until.UTC().Format(time.RFC1123))
	}
	return nil
}

// parseDate reads a Release date: RFC 1123 with a zone name or offset,
// the day with one or two digits, as apt accepts.
func parseDate(v string) (time.Time, error) {
	v = strings.TrimSpace(v)
	var err error
	for _, layout := range []string{time.RFC1123, time.RFC1123Z, "Mon, 2 Jan 2006 15:04:05 MST", "Mon, 2 Jan 2006 15:04:05 -0700"} {
		var t time.Time
		if t, err = time.Parse(layout, v); err == nil {
			return t, nil
		}
	}
	return time.Time{}, err
}

// parseRelease reads the fields of a Release file.
func parseRelease(text []byte) (*Release, error) {
	var p *paragraph
	err := readParagraphs(bytes.NewReader(text), func(q paragraph) error {
		if p != nil {
			return errors.New("it holds more than one paragraph")
		}
		p = &q
		return nil
	})
	if err != nil {
		return nil, err
	}
	if p == nil {
		return nil, errors.New("it is empty")
	}
	f := p.fields
	rel := &Release{
		Origin: f["origin"], Label: f["label"], Suite: f["suite"], Codename: f["codename"],
		Date: f["date"], ValidUntil: f["valid-until"],
		Architectures: strings.Fields(f["architectures"]),
		Components:    strings.Fields(f["components"]),
		AcquireByHash: strings.EqualFold(f["acquire-by-hash"], "yes"),
		Files:         map[string]FileSum{},
	}
	if rel.Suite == "" && rel.Codename == "" {
		return nil, errors.New("it names neither Suite nor Codename")
	}
	for _, line := range strings.Split(f["sha256"], "\n") {
		fs := strings.Fields(line)
		if len(fs) == 0 {
			continue
		}
		if len(fs) != 3 || !isSHA256(fs[0]) {
			return nil, fmt.Errorf("its SHA256 list has a malformed line %.80q", line)
		}
		size, err := strconv.ParseInt(fs[1], 10, 64)
		if err != nil || size < 0 {
			return nil, fmt.Errorf("its SHA256 list has a malformed size in %.80q", line)
		}
		rel.Files[fs[2]] = FileSum{Size: size, SHA256: strings.ToLower(fs[0])}
	}
	if len(rel.Files) == 0 {
		return nil, errors.New("it lists no file with a SHA256 (only weaker sums, or none), so its indexes cannot be verified")
	}
	return rel, nil
}

func isSHA256(s string) bool {
	if len(s) != 64 {
		return false
	}
	_, err := hex.DecodeString(s)
	return err == nil
}
