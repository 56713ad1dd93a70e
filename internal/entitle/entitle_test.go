package entitle

import (
	"strings"
	"testing"
	"time"

	"github.com/enmei-project/enmei/internal/errs"
	"github.com/enmei-project/enmei/internal/store"
)

func TestCheckValid(t *testing.T) {
	c := store.Contract{SupportID: "S", Start: "2026-04-01", End: "2027-03-31"}
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
	good := store.Contract{Customer: "ACME", Products: []string{"p"}, Plan: "server", Quantity: 5,
		Start: "2026-01-01", End: "2026-12-31", Contact: "ops@example.co.jp"}
	if err := CheckNew(good); err != nil {
		t.Fatalf("CheckNew(good) = %v", err)
	}
	tests := []struct {
		name string
		edit func(*store.Contract)
	}{
		{"no customer", func(c *store.Contract) { c.Customer = " " }},
		{"no product", func(c *store.Contract) { c.Products = nil }},
		{"bad plan", func(c *store.Contract) { c.Plan = "gold" }},
		{"zero quantity", func(c *store.Contract) { c.Quantity = 0 }},
		{"developer below 5", func(c *store.Contract) { c.Plan = "developer"; c.Quantity = 4 }},
		{"bad date", func(c *store.Contract) { c.End = "2026-13-01" }},
		{"end before start", func(c *store.Contract) { c.End = "2025-12-31" }},
		{"two contacts", func(c *store.Contract) { c.Contact = "a@example.com, b@example.com" }},
		{"contact not an address", func(c *store.Contract) { c.Contact = "ops" }},
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
	key, rec := NewLicenseKey("S", "p")
	if !strings.HasPrefix(key, "EK-") || len(key) != 3+25+4 {
		t.Errorf("NewLicenseKey() = %q, want EK- and five groups of five", key)
	}
	if !Matches(NormalizeKey(strings.ToLower(key)), rec.Hash) {
		t.Errorf("lower-case key %q does not match its hash", key)
	}
	other, _ := NewLicenseKey("S", "p")
	if other == key || Matches(NormalizeKey(other), rec.Hash) {
		t.Errorf("two keys collide: %q %q", key, other)
	}
	if a, b := NewSecret(), NewSecret(); a == b || len(a) != 32 {
		t.Errorf("NewSecret() = %q, %q", a, b)
	}
}
