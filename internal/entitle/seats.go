package entitle

import (
	"cmp"
	"slices"
	"time"

	"github.com/enmei-project/enmei/internal/errs"
)

// Lease bounds: the default an ephemeral seat gets, and the shortest and
// longest a host may ask for. Five seconds keeps tests short; a day is
// already longer than any health check or timer needs.
const (
	DefaultLease = 15 * time.Minute
	MinLease     = 5 * time.Second
	MaxLease     = 24 * time.Hour
)

// An ended lease's host is kept LeaseKept, so its heartbeat can take a
// seat again with the same credential; after that it must register again.
// Seat history (for daily peaks) is kept SeatHistory.
const (
	LeaseKept   = 7 * 24 * time.Hour
	SeatHistory = 400 * 24 * time.Hour
)

// CheckLease refuses a lease length outside [MinLease, MaxLease].
func CheckLease(d time.Duration) error {
	if d < MinLease || d > MaxLease {
		return errs.E(errs.Invalid, "a lease of %s is outside what the server grants (%s to %s): pass --lease within that range", d, MinLease, MaxLease)
	}
	return nil
}

// Span is a period one host held a seat of a contract's product: from
// Start until End (zero End: still held).
type Span struct {
	HostID    string
	ProductID string
	Start     time.Time
	End       time.Time
}

// DailyPeak is the most seats of one product held at the same time on one
// day (Asia/Tokyo): what a vendor bills seats that come and go against.
type DailyPeak struct {
	Day       string `json:"day"` // YYYY-MM-DD
	ProductID string `json:"product"`
	Peak      int    `json:"peak"`
}

// DailyPeaks returns, for each product and each of the days from first
// through last (YYYY-MM-DD, Asia/Tokyo) that has begun by now, the peak of
// concurrent seats. A seat given back at the instant another is taken does
// not count twice. The result is ordered by day, then product.
func DailyPeaks(spans []Span, products []string, first, last string, now time.Time) ([]DailyPeak, error) {
	from, err := ParseDate(first)
	if err != nil {
		return nil, err
	}
	to, err := ParseDate(last)
	if err != nil {
		return nil, err
	}
	type event struct {
		at    time.Time
		delta int
	}
	byProduct := map[string][]event{}
	for _, s := range spans {
		end := s.End
		if end.IsZero() || end.After(now) {
			end = now
		}
		if !end.After(s.Start) {
			continue
		}
		byProduct[s.ProductID] = append(byProduct[s.ProductID], event{s.Start, +1}, event{end, -1})
	}
	var out []DailyPeak
	for _, p := range products {
		evs := byProduct[p]
		// Ends before starts at the same instant: a seat handed over is one seat.
		slices.SortFunc(evs, func(a, b event) int {
			return cmp.Or(a.at.Compare(b.at), cmp.Compare(a.delta, b.delta))
		})
		held, i := 0, 0
		for day := from; !day.After(to) && day.Before(now); day = day.AddDate(0, 0, 1) {
			next := day.AddDate(0, 0, 1)
			for ; i < len(evs) && !evs[i].at.After(day); i++ {
				held += evs[i].delta
			}
			peak := held
			for ; i < len(evs) && evs[i].at.Before(next); i++ {
				held += evs[i].delta
				peak = max(peak, held)
			}
			out = append(out, DailyPeak{Day: day.Format(DateLayout), ProductID: p, Peak: peak})
		}
	}
	slices.SortStableFunc(out, func(a, b DailyPeak) int { return cmp.Compare(a.Day, b.Day) })
	return out, nil
}
