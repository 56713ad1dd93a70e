// Package entitle holds the pure rules of who may use what: contract validity
// in Asia/Tokyo, plans, and the making and checking of licence keys, support
// IDs and host credentials. It does no I/O and takes the time as an argument,
// so every rule is table-tested.
package entitle

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base32"
	"fmt"
	"net/mail"
	"regexp"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/enmei-project/enmei/internal/errs"
)

// Contract is a customer's contract (PRODUCT.md §2). The store persists it
// under this definition; the rules here never see the store.
type Contract struct {
	SupportID string
	Customer  string
	EndUser   string
	Plan      string   // one of Plans
	Products  []string // product IDs, in the order given
	Quantity  int      // per product key
	Start     string   // YYYY-MM-DD, Asia/Tokyo
	End       string   // YYYY-MM-DD, Asia/Tokyo, inclusive
	Contact   string   // technical contact e-mail (as first given; changes are kept beside it)
	// Lang is the language of the customer's mail: "ja" (default) or "en".
	Lang string
	// Inquiries is the inquiry allowance: new matters per contract year,
	// or Unlimited (one investigated at a time). 0 means DefaultInquiries.
	Inquiries int
	// ELSUpdates is the extra option of a virtualisation-platform
	// contract: updates in the product's extended phase (standard plans
	// include them).
	ELSUpdates bool
	// AllowMirror and AllowOffline are individual contract terms: the
	// customer may mirror the repositories with their own tools (a mirror
	// account, no seat), and may download companion disks that carry the
	// packages for sites without network.
	AllowMirror  bool
	AllowOffline bool
	CreatedAt    time.Time
}

// DefaultInquiries is the TuxCare rule: 2 new matters per contract year.
const DefaultInquiries = 2

// Unlimited is the Inquiries of an AlmaLinux Standard contract: unlimited
// inquiries, one investigated at a time.
const Unlimited = -1

// Allowance is the contract's inquiries per year with the default applied.
func (c Contract) Allowance() int {
	if c.Inquiries == 0 {
		return DefaultInquiries
	}
	return c.Inquiries
}

// Language is the language of the customer's mail with the default applied.
func (c Contract) Language() string {
	if c.Lang == "en" {
		return "en"
	}
	return "ja"
}

// Tokyo is the zone contract dates are meant in. Japan has no daylight saving
// time, so a fixed zone is exact and needs no tzdata on the host.
var Tokyo = time.FixedZone("Asia/Tokyo", 9*60*60)

// DateLayout is how dates are written on the command line and in JSON.
const DateLayout = "2006-01-02"

// ParseDate checks a YYYY-MM-DD date and returns its start in Asia/Tokyo.
func ParseDate(s string) (time.Time, error) {
	t, err := time.ParseInLocation(DateLayout, s, Tokyo)
	if err != nil {
		return time.Time{}, errs.E(errs.Invalid, "%q is not a date: write it as YYYY-MM-DD", s)
	}
	return t, nil
}

// Plans are the contract plans of PRODUCT.md §2.
var Plans = []string{"server", "container", "developer", "physical", "virtual", "platform"}

// Window returns the instants a contract is valid between: from the start of
// its start date to the end of its end date, Asia/Tokyo ([from, until)).
func Window(c Contract) (from, until time.Time, err error) {
	from, err = ParseDate(c.Start)
	if err != nil {
		return
	}
	end, err := ParseDate(c.End)
	if err != nil {
		return
	}
	return from, end.AddDate(0, 0, 1), nil
}

// CheckValid returns an Entitlement error unless the contract is valid at now.
func CheckValid(c Contract, now time.Time) error {
	from, until, err := Window(c)
	if err != nil {
		return err
	}
	switch {
	case now.Before(from):
		return errs.E(errs.Entitlement, "contract %s has not started: it is valid from %s (Asia/Tokyo)", c.SupportID, c.Start)
	case !now.Before(until):
		return errs.E(errs.Entitlement, "contract %s expired at the end of %s (Asia/Tokyo): renew it with your vendor", c.SupportID, c.End)
	}
	return nil
}

// CheckNew validates a contract before it is created.
func CheckNew(c Contract) error {
	if strings.TrimSpace(c.Customer) == "" {
		return errs.E(errs.Invalid, "a contract needs a customer: pass --customer NAME")
	}
	if len(c.Products) == 0 {
		return errs.E(errs.Invalid, "a contract needs at least one product: pass --product ID")
	}
	seen := map[string]bool{}
	for _, p := range c.Products {
		if seen[p] {
			return errs.E(errs.Invalid, "product %q is listed twice: each product gets one licence key", p)
		}
		seen[p] = true
	}
	ok := false
	for _, p := range Plans {
		ok = ok || p == c.Plan
	}
	if !ok {
		return errs.E(errs.Invalid, "plan %q is not one of %s", c.Plan, strings.Join(Plans, ", "))
	}
	if c.Quantity < 1 {
		return errs.E(errs.Invalid, "quantity must be at least 1, not %d", c.Quantity)
	}
	if c.Plan == "developer" && c.Quantity < 5 {
		return errs.E(errs.Invalid, "the developer plan needs a quantity of at least 5 developers, not %d", c.Quantity)
	}
	from, until, err := Window(c)
	if err != nil {
		return err
	}
	if !from.Before(until) || c.End < c.Start {
		return errs.E(errs.Invalid, "the end date %s is before the start date %s", c.End, c.Start)
	}
	if c.Lang != "" && c.Lang != "ja" && c.Lang != "en" {
		return errs.E(errs.Invalid, "language %q is not ja or en", c.Lang)
	}
	if c.Inquiries < Unlimited || c.Inquiries > 1000 {
		return errs.E(errs.Invalid, "inquiries must be 1 to 1000 per contract year, or unlimited")
	}
	if a, err := mail.ParseAddress(c.Contact); err != nil || a.Address != c.Contact {
		return errs.E(errs.Invalid, "technical contact %q is not one e-mail address (use a mailing list for several people)", c.Contact)
	}
	return nil
}

// Crockford-style base32 without padding: no I, L, O, U, so keys read aloud or
// typed from a PDF are not misread.
var keyEncoding = base32.NewEncoding("0123456789ABCDEFGHJKMNPQRSTVWXYZ").WithPadding(base32.NoPadding)

func randomText(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(fmt.Sprintf("crypto/rand failed: %v", err)) // the platform is broken; nothing sane to do
	}
	return keyEncoding.EncodeToString(b)
}

// NewLicenseKey makes a licence key (alphanumeric, 125 random bits, grouped by
// five), its public identifier, and the hash that is stored instead of it.
func NewLicenseKey() (key, id string, hash []byte) {
	raw := randomText(16)[:25]
	groups := make([]string, 0, 5)
	for i := 0; i < len(raw); i += 5 {
		groups = append(groups, raw[i:i+5])
	}
	key = "EK-" + strings.Join(groups, "-")
	return key, "k_" + strings.ToLower(randomText(5)), Hash(NormalizeKey(key))
}

// NormalizeKey lets customers type keys in lower case or with spaces.
func NormalizeKey(key string) string {
	return strings.ToUpper(strings.Join(strings.Fields(key), ""))
}

// NewSupportID makes a support ID such as "ENM-2026-7K3Q9D".
func NewSupportID(now time.Time) string {
	return fmt.Sprintf("ENM-%d-%s", now.In(Tokyo).Year(), randomText(5)[:6])
}

// Shapes of what clients send, checked before anything is looked up or
// cached, so a flood of junk credentials costs no memory and no query.
var (
	hostIDShape   = regexp.MustCompile(`^h_[0-9a-z]{16}$`)
	mirrorIDShape = regexp.MustCompile(`^m_[0-9a-z]{16}$`)
	secretShape   = regexp.MustCompile(`^[0-9a-z]{32}$`)
	keyShape      = regexp.MustCompile(`^EK-[0-9A-HJKMNP-TV-Z]{5}(-[0-9A-HJKMNP-TV-Z]{5}){4}$`)
)

// LooksLikeHostID reports whether id has the shape NewHostID makes.
func LooksLikeHostID(id string) bool { return len(id) == 18 && hostIDShape.MatchString(id) }

// LooksLikeMirrorID reports whether id has the shape NewMirrorID makes.
func LooksLikeMirrorID(id string) bool { return len(id) == 18 && mirrorIDShape.MatchString(id) }

// LooksLikeSecret reports whether s has the shape NewSecret makes.
func LooksLikeSecret(s string) bool { return len(s) == 32 && secretShape.MatchString(s) }

// LooksLikeKey reports whether a normalised key has the shape NewLicenseKey makes.
func LooksLikeKey(key string) bool { return len(key) == 32 && keyShape.MatchString(key) }

// ValidHostname reports whether a host name may be stored and shown to the
// vendor: at most 253 bytes of printable characters without spaces, so no
// terminal escape, newline or bidirectional override reaches an operator's
// screen. "" (withheld) is valid.
func ValidHostname(name string) bool {
	if len(name) > 253 || !utf8.ValidString(name) {
		return false
	}
	for _, r := range name {
		if !unicode.IsGraphic(r) || unicode.IsSpace(r) || unicode.Is(unicode.Bidi_Control, r) {
			return false
		}
	}
	return true
}

// NewDeveloperAccount makes a developer-plan account name (assigned by the
// service, never chosen): "dev-" and ten lower-case letters and digits.
func NewDeveloperAccount() string { return "dev-" + strings.ToLower(randomText(7)[:10]) }

// NewInitialPassword makes a developer account's initial password: 20
// letters and digits in groups of five, easy to type from a PDF, 100
// random bits.
func NewInitialPassword() string {
	raw := strings.ToLower(randomText(13)[:20])
	return raw[:5] + "-" + raw[5:10] + "-" + raw[10:15] + "-" + raw[15:]
}

// NewHostID makes a host's public ID (its HTTP Basic user name).
func NewHostID() string { return "h_" + strings.ToLower(randomText(10)) }

// NewMirrorID makes a mirror account's ID (its HTTP Basic user name).
func NewMirrorID() string { return "m_" + strings.ToLower(randomText(10)) }

// NewSecret makes a host secret (its HTTP Basic password), 160 random bits.
func NewSecret() string { return strings.ToLower(randomText(20)) }

// Hash is how keys and secrets are stored. They are long random strings, not
// passwords people choose, so a single SHA-256 is enough: there is nothing to
// guess from the hash.
func Hash(secret string) []byte {
	h := sha256.Sum256([]byte(secret))
	return h[:]
}

// Matches reports, in constant time, whether secret hashes to want.
func Matches(secret string, want []byte) bool {
	return subtle.ConstantTimeCompare(Hash(secret), want) == 1
}
