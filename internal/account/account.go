// Package account holds the rules of who may sign in to the portal and the
// vendor console, and how their secrets are kept: roles and what each may do,
// argon2id password hashes, and the random tokens behind sessions, one-time
// links and API tokens (stored only as SHA-256, since a 256-bit random token
// cannot be guessed from its hash). It does no I/O, so every rule is
// table-tested; the store keeps the records.
package account

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"fmt"
	"net/mail"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"golang.org/x/crypto/argon2"

	"github.com/enmei-project/enmei/internal/errs"
)

// Roles of vendor console users and API tokens.
const (
	RoleAdmin    = "admin"    // everything, including users and tokens
	RoleOperator = "operator" // day-to-day changes: contracts, seats, rollbacks
	RoleViewer   = "viewer"   // reads only
)

// Roles lists the roles, most powerful first.
var Roles = []string{RoleAdmin, RoleOperator, RoleViewer}

// CheckRole returns an Invalid error unless role is one of Roles.
func CheckRole(role string) error {
	for _, r := range Roles {
		if r == role {
			return nil
		}
	}
	return errs.E(errs.Invalid, "role %q is not one of %s", role, strings.Join(Roles, ", "))
}

// CanChange reports whether a role may change anything (viewers may not).
func CanChange(role string) bool { return role == RoleAdmin || role == RoleOperator }

// Kinds of sessions and one-time links.
const (
	Customer = "customer" // subject: a support ID
	Vendor   = "vendor"   // subject: a console user's e-mail
	// Developer is a developer-plan account's session on /developer/;
	// subject: the account name.
	Developer = "developer"
)

// Purposes of one-time links.
const (
	LinkLogin    = "login"    // a customer's sign-in link, mailed
	LinkPassword = "password" // a console user's set-password link, printed
	// LinkCertificate downloads a contract's client certificate once; its
	// subject is the certificate's serial.
	LinkCertificate = "certificate"
)

// Lifetimes.
const (
	LoginLinkTTL    = 15 * time.Minute
	PasswordLinkTTL = 72 * time.Hour // printed by an operator, passed on by hand
	SessionTTL      = 12 * time.Hour
)

// NormalizeEmail lower-cases an address so a user types it as they like.
// It returns an Invalid error unless s is one plain address.
func NormalizeEmail(s string) (string, error) {
	s = strings.TrimSpace(s)
	a, err := mail.ParseAddress(s)
	if err != nil || a.Address != s || len(s) > 254 {
		return "", errs.E(errs.Invalid, "%q is not one e-mail address", s)
	}
	return strings.ToLower(s), nil
}

// NewToken makes a random URL-safe token (256 bits) and the hash that is
// stored instead of it.
func NewToken() (token string, hash []byte) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		panic(fmt.Sprintf("crypto/rand failed: %v", err))
	}
	token = base64.RawURLEncoding.EncodeToString(b)
	return token, HashToken(token)
}

// LooksLikeToken reports whether s has the shape NewToken makes, so junk is
// refused before any lookup.
func LooksLikeToken(s string) bool {
	if len(s) != 43 {
		return false
	}
	_, err := base64.RawURLEncoding.DecodeString(s)
	return err == nil
}

// HashToken is how tokens are stored.
func HashToken(token string) []byte {
	h := sha256.Sum256([]byte(token))
	return h[:]
}

// argon2id parameters (RFC 9106's second recommended option, with less
// memory): about 50 ms on one core of a small server.
const (
	argonTime    = 3
	argonMemory  = 64 * 1024 // KiB
	argonThreads = 2
	argonKeyLen  = 32
)

// MinPasswordLen is the shortest password accepted.
const MinPasswordLen = 12

// CheckPassword returns an Invalid error for a password too weak to accept.
func CheckPassword(pw string) error {
	if utf8.RuneCountInString(pw) < MinPasswordLen {
		return errs.E(errs.Invalid, "the password must be at least %d characters long", MinPasswordLen)
	}
	if len(pw) > 1024 {
		return errs.E(errs.Invalid, "the password must be at most 1024 bytes long")
	}
	return nil
}

// HashPassword returns an argon2id hash in the PHC string format.
func HashPassword(pw string) string {
	salt := make([]byte, 16)
	if _, err := rand.Read(salt); err != nil {
		panic(fmt.Sprintf("crypto/rand failed: %v", err))
	}
	key := argon2.IDKey([]byte(pw), salt, argonTime, argonMemory, argonThreads, argonKeyLen)
	b64 := base64.RawStdEncoding
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, argonMemory, argonTime, argonThreads,
		b64.EncodeToString(salt), b64.EncodeToString(key))
}

// dummyHash is checked against when a user does not exist, so a login for an
// unknown address takes as long as one for a known address. It is made on
// first need: at init it would cost every command (mail ingest from a
// mail server's pipe runs one per message) an argon2id hash.
var dummyHash = sync.OnceValue(func() string { return HashPassword("enmei-no-such-user-password") })

// VerifyPassword reports, in constant time, whether pw matches the PHC hash.
// An empty or malformed hash matches nothing but costs the same time.
func VerifyPassword(hash, pw string) bool {
	ok := true
	if hash == "" {
		hash, ok = dummyHash(), false
	}
	var v, m, t, p int
	parts := strings.Split(hash, "$")
	if len(parts) != 6 || parts[1] != "argon2id" {
		hash, ok = dummyHash(), false
		parts = strings.Split(hash, "$")
	}
	if _, err := fmt.Sscanf(parts[2], "v=%d", &v); err != nil || v != argon2.Version {
		return false
	}
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &m, &t, &p); err != nil || m < 1 || m > 1<<21 || t < 1 || t > 16 || p < 1 || p > 16 {
		return false
	}
	b64 := base64.RawStdEncoding
	salt, err1 := b64.DecodeString(parts[4])
	want, err2 := b64.DecodeString(parts[5])
	if err1 != nil || err2 != nil || len(want) == 0 {
		return false
	}
	got := argon2.IDKey([]byte(pw), salt, uint32(t), uint32(m), uint8(p), uint32(len(want)))
	return subtle.ConstantTimeCompare(got, want) == 1 && ok
}
