package entitle

import (
	"time"

	"github.com/enmei-project/enmei/internal/errs"
)

// Lifecycle phases of a product (PRODUCT.md §1): full support, security
// support, the extended (ELS) period, and the end of service.
const (
	PhaseFull     = "full"
	PhaseSecurity = "security"
	PhaseExtended = "extended"
	PhaseEnd      = "end"
)

// Lifecycle is a product's phases: the last day (YYYY-MM-DD, Asia/Tokyo,
// inclusive) of each, "" when not set. End is the announced end of service
// (the product's EOL), which ends any phase early.
type Lifecycle struct {
	FullUntil, SecurityUntil, ExtendedUntil, End string
}

// Phase is where a product stands on a day: the phase and its last day
// ("" when open-ended). Name is "" when the product has no lifecycle.
type Phase struct {
	Name  string `json:"phase,omitempty"`
	Until string `json:"phase_until,omitempty"`
}

// CheckLifecycle refuses dates that are not dates or not in order.
func CheckLifecycle(l Lifecycle) error {
	var prev, prevName string
	for _, d := range []struct{ name, date string }{
		{"--full-until", l.FullUntil}, {"--security-until", l.SecurityUntil}, {"--extended-until", l.ExtendedUntil}} {
		if d.date == "" {
			continue
		}
		if _, err := ParseDate(d.date); err != nil {
			return errs.E(errs.Invalid, "%s %q is not a date: write it as YYYY-MM-DD", d.name, d.date)
		}
		if prev != "" && d.date < prev {
			return errs.E(errs.Invalid, "%s %s is before %s %s: the phases follow each other", d.name, d.date, prevName, prev)
		}
		prev, prevName = d.date, d.name
	}
	return nil
}

// PhaseAt is the product's phase at now.
func PhaseAt(l Lifecycle, now time.Time) Phase {
	day := now.In(Tokyo).Format(DateLayout)
	if l.End != "" && day > l.End {
		return Phase{Name: PhaseEnd}
	}
	for _, p := range []struct{ name, until string }{
		{PhaseFull, l.FullUntil}, {PhaseSecurity, l.SecurityUntil}, {PhaseExtended, l.ExtendedUntil}} {
		if p.until == "" || day > p.until {
			continue
		}
		until := p.until
		if l.End != "" && l.End < until {
			until = l.End
		}
		return Phase{Name: p.name, Until: until}
	}
	switch {
	case l.ExtendedUntil != "" || l.SecurityUntil != "" || l.FullUntil != "":
		return Phase{Name: PhaseEnd} // past its last phase
	case l.End != "":
		return Phase{Name: PhaseExtended, Until: l.End} // only the end is known
	}
	return Phase{}
}

// SalesEnd is the first day new contracts and renewals for a product
// ending on end are refused: one year before the end of service (the
// seed stops sales then, not at the announcement). "" for no end.
func SalesEnd(end string) string {
	t, err := ParseDate(end)
	if err != nil {
		return ""
	}
	return t.AddDate(-1, 0, 0).Format(DateLayout)
}

// CheckOnSale refuses selling a product at now from one year before its
// end of service, naming the dates.
func CheckOnSale(productID, end string, now time.Time) error {
	from := SalesEnd(end)
	if from == "" {
		return nil
	}
	if day := now.In(Tokyo).Format(DateLayout); day >= from {
		return errs.E(errs.Invalid, "product %s is no longer sold: its service ends on %s, and new contracts and renewals stop one year before, from %s", productID, end, from)
	}
	return nil
}
