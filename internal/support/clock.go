package support

import (
	"time"

	"github.com/enmei-project/enmei/internal/bizcal"
	"github.com/enmei-project/enmei/internal/entitle"
)

// Support hours on a business day, as offsets from midnight Asia/Tokyo:
// a morning and an afternoon session around the lunch break.
const (
	amOpen  = 9 * time.Hour
	amClose = 12 * time.Hour
	pmOpen  = 13 * time.Hour
	pmClose = 18 * time.Hour
	// dayHours is the support time in one business day.
	dayHours = (amClose - amOpen) + (pmClose - pmOpen)
)

// Clock measures support time: response and resolution targets count only
// the hours the desk is staffed, 9:00–12:00 and 13:00–18:00 Asia/Tokyo on
// the business days of Cal. Instants it returns are in Asia/Tokyo.
type Clock struct{ Cal bizcal.Calendar }

// split returns t's day in Tokyo and its offset from that day's midnight.
func split(t time.Time) (bizcal.Date, time.Duration) {
	d := bizcal.DateOf(t)
	return d, t.Sub(d.Time())
}

// at is the instant off after midnight of day d, in Tokyo.
func at(d bizcal.Date, off time.Duration) time.Time {
	return d.Time().Add(off).In(entitle.Tokyo)
}

// elapsedInDay is the support time on a business day before the offset off.
func elapsedInDay(off time.Duration) time.Duration {
	return clamp(off, amOpen, amClose) - amOpen + clamp(off, pmOpen, pmClose) - pmOpen
}

func clamp(x, lo, hi time.Duration) time.Duration {
	return max(lo, min(x, hi))
}

// Open reports whether t is within support hours.
func (c Clock) Open(t time.Time) bool {
	d, off := split(t)
	return c.Cal.IsBusinessDay(d) &&
		(off >= amOpen && off < amClose || off >= pmOpen && off < pmClose)
}

// NextOpen returns t if the desk is open at t, else the instant it next
// opens.
func (c Clock) NextOpen(t time.Time) time.Time {
	d, off := split(t)
	if c.Cal.IsBusinessDay(d) {
		switch {
		case off < amOpen:
			return at(d, amOpen)
		case off < amClose:
			return t
		case off < pmOpen:
			return at(d, pmOpen)
		case off < pmClose:
			return t
		}
	}
	return at(c.Cal.AddBusinessDays(d, 1), amOpen)
}

// Add returns the instant at which d of support time has elapsed counting
// from from: the due time of a target of d for a ticket opened at from.
// d == 0 gives NextOpen(from), and a negative d counts as 0. The due time
// is the end of the hour that completes d, so 3h from 9:00 is 12:00, not
// 13:00. Whole days are skipped with business-day arithmetic, so a target
// of months costs no more than one of hours.
func (c Clock) Add(from time.Time, d time.Duration) time.Time {
	t := c.NextOpen(from)
	if d <= 0 {
		return t
	}
	day, off := split(t)
	// What is left of the opening day.
	done := elapsedInDay(off)
	if d <= dayHours-done {
		return at(day, offsetAfter(done+d))
	}
	d -= dayHours - done
	// d > 0 remains: skip the business days it fills entirely, keeping the
	// last (possibly full) day to land in, so that a target ending exactly
	// at 18:00 is due at 18:00 rather than at 9:00 the next day.
	whole := (d - 1) / dayHours
	d -= whole * dayHours
	return at(c.Cal.AddBusinessDays(day, int(whole)+1), offsetAfter(d))
}

// offsetAfter is the offset from midnight at which e (0 < e <= dayHours) of
// the day's support time has elapsed.
func offsetAfter(e time.Duration) time.Duration {
	if e <= amClose-amOpen {
		return amOpen + e
	}
	return pmOpen + e - (amClose - amOpen)
}

// Between returns the support time within [from, to), 0 if to is not after
// from.
func (c Clock) Between(from, to time.Time) time.Duration {
	if !to.After(from) {
		return 0
	}
	df, of := split(from)
	dt, ot := split(to)
	// Support time before an instant, counted from a fixed origin, is
	// dayHours per business day before its day plus what its own day has
	// had; the difference of the two needs only business days in [df, dt).
	days := c.Cal.BusinessDaysBetween(df, dt) // business days in (df, dt]
	var got time.Duration
	if c.Cal.IsBusinessDay(df) {
		days++
		got -= elapsedInDay(of)
	}
	if c.Cal.IsBusinessDay(dt) {
		days--
		got += elapsedInDay(ot)
	}
	return got + time.Duration(days)*dayHours
}

// Left returns the support time from now until due, negative (the support
// time since due) once due has passed: a ticket's remaining time to target.
func (c Clock) Left(now, due time.Time) time.Duration {
	if now.Before(due) {
		return c.Between(now, due)
	}
	return -c.Between(due, now)
}
