package support

import (
	"cmp"
	"slices"
	"strings"
	"time"

	"github.com/enmei-project/enmei/internal/bizcal"
	"github.com/enmei-project/enmei/internal/entitle"
	"github.com/enmei-project/enmei/internal/errs"
)

// ContractYear returns the contract year that day falls in: years run from
// each anniversary of the contract start, so the allowance renews on the
// start's month and day whatever the calendar year. A start on 29 February
// has its anniversaries on 28 February in common years. A day before the
// start belongs to the first year, so a ticket logged early is counted
// against it rather than refused here. Dates are YYYY-MM-DD; yearEnd is
// inclusive (the day before the next anniversary).
func ContractYear(start, day string) (yearStart, yearEnd string, err error) {
	s, err := bizcal.ParseDate(start)
	if err != nil {
		return "", "", errs.E(errs.Invalid, "contract start %q is not a date: write it as YYYY-MM-DD", start)
	}
	d, err := bizcal.ParseDate(day)
	if err != nil {
		return "", "", errs.E(errs.Invalid, "day %q is not a date: write it as YYYY-MM-DD", day)
	}
	n := 0
	if !d.Before(s) {
		n = d.Year - s.Year
		if anniversary(s, n).After(d) {
			n--
		}
	}
	return anniversary(s, n).String(), anniversary(s, n+1).AddDays(-1).String(), nil
}

// anniversary is the n-th anniversary of s (the 0th is s), on 28 February
// when s is 29 February and the year is common: bizcal.D would roll it over
// to 1 March, which would move the renewal.
func anniversary(s bizcal.Date, n int) bizcal.Date {
	y := s.Year + n
	if s.Month == time.February && s.Day == 29 && bizcal.D(y, time.February, 29).Month != time.February {
		return bizcal.D(y, time.February, 28)
	}
	return bizcal.D(y, s.Month, s.Day)
}

// Unlimited is an allowance without a limit on new inquiries (the
// contract's Inquiries of entitle.Unlimited): they are still investigated
// one at a time (see Queue).
const Unlimited = entitle.Unlimited

// maxInquiries bounds a numeric allowance; more is a typo for unlimited.
const maxInquiries = 1000

// Allowance is a contract year's inquiry allowance: how many new matters
// the customer may open (Total, or Unlimited) and how many they have.
type Allowance struct{ Total, Used int }

// Left is the number of new matters the customer may still open this
// contract year, Unlimited when unlimited, never negative (an allowance
// lowered mid-year leaves nothing rather than a debt).
func (a Allowance) Left() int {
	if a.Total == Unlimited {
		return Unlimited
	}
	return max(0, a.Total-a.Used)
}

// CanOpen reports whether the customer may open a new matter.
func (a Allowance) CanOpen() bool {
	return a.Total == Unlimited || a.Used < a.Total
}

// ParseInquiries reads the --inquiries flag: "unlimited" or a number of
// matters per contract year from 0 to 1000.
func ParseInquiries(s string) (int, error) {
	if strings.EqualFold(s, "unlimited") {
		return Unlimited, nil
	}
	n, ok := 0, s != "" && len(s) <= 4
	for i := 0; ok && i < len(s); i++ {
		ok = s[i] >= '0' && s[i] <= '9'
		n = n*10 + int(s[i]-'0')
	}
	if !ok || n > maxInquiries {
		return 0, errs.E(errs.Invalid, "--inquiries %q is not valid: write a number of inquiries per contract year from 0 to %d, or \"unlimited\"", s, maxInquiries)
	}
	return n, nil
}

// QueueItem is an open ticket waiting for, or under, investigation.
type QueueItem struct {
	ID     string
	Opened time.Time
	// Priority is set by the customer: 1 is investigated first; 0 is not set.
	Priority int
	// Started is set once the vendor has started investigating the ticket.
	Started bool
}

// Queue orders a customer's open tickets for investigation, one at a time:
// the vendor finishes what it has started (oldest first), then takes the
// tickets the customer prioritised, by priority then age, then the rest by
// age. Ties go by ID so that the order never depends on the input's.
// items is not modified.
func Queue(items []QueueItem) []QueueItem {
	q := slices.Clone(items)
	slices.SortStableFunc(q, func(a, b QueueItem) int {
		if c := cmp.Compare(queueGroup(a), queueGroup(b)); c != 0 {
			return c
		}
		if !a.Started { // both prioritised, or both not (priority 0)
			if c := cmp.Compare(a.Priority, b.Priority); c != 0 {
				return c
			}
		}
		if c := a.Opened.Compare(b.Opened); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
	return q
}

// queueGroup is 0 for started tickets, 1 for prioritised ones, 2 for the rest.
func queueGroup(it QueueItem) int {
	switch {
	case it.Started:
		return 0
	case it.Priority > 0:
		return 1
	}
	return 2
}

// contactNotice is the notice, in business days after the day of the
// request, before a new technical contact takes effect: time for the vendor
// to update its records and the customer to tell the old contact.
const contactNotice = 3

// ContactEffective is the day a technical contact change requested at
// requested takes effect: three business days after the day of the
// request (Asia/Tokyo), unless the vendor sets another day.
func ContactEffective(cal bizcal.Calendar, requested time.Time) bizcal.Date {
	return cal.AddBusinessDays(bizcal.DateOf(requested), contactNotice)
}

// CheckContactEffective checks a day (YYYY-MM-DD) the vendor sets for a
// contact change requested at requested: it may be earlier than the
// default but not before the day of the request, since that would rewrite
// who was the contact for mail already sent.
func CheckContactEffective(requested time.Time, day string) error {
	d, err := bizcal.ParseDate(day)
	if err != nil {
		return errs.E(errs.Invalid, "effective day %q is not a date: write it as YYYY-MM-DD", day)
	}
	if r := bizcal.DateOf(requested); d.Before(r) {
		return errs.E(errs.Invalid, "effective day %s is before the day of the request, %s: a contact change cannot take effect in the past", d, r)
	}
	return nil
}

// ContactChange is a change of a contract's technical contact.
type ContactChange struct {
	Email       string
	Effective   string // YYYY-MM-DD, Asia/Tokyo
	RequestedAt time.Time
}

// ContactOn returns the technical contact in force on day (YYYY-MM-DD):
// that of the latest change in effect by then, a later request winning
// between changes effective the same day, else the original contact.
func ContactOn(original string, changes []ContactChange, day string) string {
	var best *ContactChange
	for i := range changes {
		c := &changes[i]
		if c.Effective == "" || c.Effective > day { // YYYY-MM-DD sorts as text
			continue
		}
		if best == nil || c.Effective > best.Effective ||
			c.Effective == best.Effective && !c.RequestedAt.Before(best.RequestedAt) {
			best = c
		}
	}
	if best == nil {
		return original
	}
	return best.Email
}
