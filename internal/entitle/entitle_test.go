package entitle

import (
	"strings"
	"testing"
	"time"

	"github.com/enmei-project/enmei/internal/errs"
)

func TestCheckValid(t *testing.T) {
	c := Contract{SupportID: "S", Start: "2026-04-01", End: "2027-03-31"}
	utc := func(s string) time.Time {
		v, err := time.Parse(time.RFC3339, s)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	tests := []struct {
		name string
		now  time.Time
		ok   bool
		msg  string
	}{
		{"before start in Tokyo", utc("2026-03-31T14:59:59Z"), false, "has not started"},
		{"first second in Tokyo", utc("2026-03-31T15:00:00Z"), true, ""},
		{"middle", utc("2026-10-01T00:00:00Z"), true, ""},
		{"last second of end date", utc("2027-03-31T14:59:59Z"), true, ""},
		{"end date over in Tokyo", utc("2027-03-31T15:00:00Z"), false, "expired"},
		{"long after", utc("2030-01-01T00:00:00Z"), false, "expired"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := CheckValid(c, tt.now)
			if (err == nil) != tt.ok {
				t.Fatalf("CheckValid(%s) = %v, want ok=%v", tt.now, err, tt.ok)
			}
			if err != nil && (!errs.Is(err, errs.Entitlement) || !strings.Contains(err.Error(), tt.msg)) {
				t.Errorf("CheckValid(%s) = %v (kind %v), want Entitlement containing %q", tt.now, err, errs.KindOf(err), tt.msg)
			}
		})
	}
}

func TestCheckNew(t *testing.T) {
	good := Contract{Customer: "ACME", Products: []string{"p"}, Plan: "server", Quantity: 5,
		Start: "2026-01-01", End: "2026-12-31", Contact: "ops@example.co.jp"}
	if err := CheckNew(good); err != nil {
		t.Fatalf("CheckNew(good) = %v", err)
	}
	tests := []struct {
		name string
		edit func(*Contract)
	}{
		{"no customer", func(c *Contract) { c.Customer = " " }},
		{"no product", func(c *Contract) { c.Products = nil }},
		{"product twice", func(c *Contract) { c.Products = []string{"p", "q", "p"} }},
		{"bad plan", func(c *Contract) { c.Plan = "gold" }},
		{"zero quantity", func(c *Contract) { c.Quantity = 0 }},
		{"developer below 5", func(c *Contract) { c.Plan = "developer"; c.Quantity = 4 }},
		{"bad date", func(c *Contract) { c.End = "2026-13-01" }},
		{"end before start", func(c *Contract) { c.End = "2025-12-31" }},
		{"two contacts", func(c *Contract) { c.Contact = "a@example.com, b@example.com" }},
		{"contact not an address", func(c *Contract) { c.Contact = "ops" }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := good
			tt.edit(&c)
			if err := CheckNew(c); !errs.Is(err, errs.Invalid) {
				t.Errorf("CheckNew(%+v) = %v, want Invalid", c, err)
			}
		})
	}
}

func TestKeys(t *testing.T) {
	key, id, hash := NewLicenseKey()
	if !strings.HasPrefix(key, "EK-") || len(key) != 3+25+4 {
		t.Errorf("NewLicenseKey() = %q, want EK- and five groups of five", key)
	}
	if !Matches(NormalizeKey(strings.ToLower(key)), hash) {
		t.Errorf("lower-case key %q does not match its hash", key)
	}
	if !strings.HasPrefix(id, "k_") {
		t.Errorf("key ID %q lacks k_", id)
	}
	if !LooksLikeKey(NormalizeKey(" " + strings.ToLower(key) + "\n")) {
		t.Errorf("LooksLikeKey(%q) = false", key)
	}
	other, _, _ := NewLicenseKey()
	if other == key || Matches(NormalizeKey(other), hash) {
		t.Errorf("two keys collide: %q %q", key, other)
	}
	if a, b := NewSecret(), NewSecret(); a == b || len(a) != 32 {
		t.Errorf("NewSecret() = %q, %q", a, b)
	}
}

func TestShapes(t *testing.T) {
	host, secret := NewHostID(), NewSecret()
	for _, tt := range []struct {
		name string
		f    func(string) bool
		in   string
		want bool
	}{
		{"host ID", LooksLikeHostID, host, true},
		{"upper-case host ID", LooksLikeHostID, strings.ToUpper(host), false},
		{"short host ID", LooksLikeHostID, host[:len(host)-1], false},
		{"long host ID", LooksLikeHostID, host + "a", false},
		{"giant host ID", LooksLikeHostID, "h_" + strings.Repeat("a", 700<<10), false},
		{"empty host ID", LooksLikeHostID, "", false},
		{"secret", LooksLikeSecret, secret, true},
		{"secret with a newline", LooksLikeSecret, secret[:31] + "\n", false},
		{"key", LooksLikeKey, "EK-0123A-BCDEF-GHJKM-NPQRS-TVWXY", true},
		{"key with I", LooksLikeKey, "EK-0123I-BCDEF-GHJKM-NPQRS-TVWXY", false},
		{"key without prefix", LooksLikeKey, "0123A-BCDEF-GHJKM-NPQRS-TVWXY", false},
		{"hostname", ValidHostname, "web01.example.co.jp", true},
		{"empty hostname", ValidHostname, "", true},
		{"Japanese hostname", ValidHostname, "サーバー1", true},
		{"hostname with an escape", ValidHostname, "web\x1b[31m", false},
		{"hostname with a newline", ValidHostname, "web\nroot", false},
		{"hostname with a space", ValidHostname, "web 01", false},
		{"hostname with a bidi override", ValidHostname, "web\u202e01", false},
		{"long hostname", ValidHostname, strings.Repeat("a", 254), false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.f(tt.in); got != tt.want {
				t.Errorf("%s(%.40q) = %v, want %v", tt.name, tt.in, got, tt.want)
			}
		})
	}
}
