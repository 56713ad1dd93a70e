package bizcal

import (
	"math/bits"
	"time"
)

// Calendar is the vendor's business calendar: Monday to Friday, less
// national holidays, the year-end closure and the vendor's own closed days.
// The zero Calendar is the plain national calendar with the year-end
// closure. A Calendar is only read, so one value can serve many goroutines.
type Calendar struct {
	// VendorHolidays are extra closed days, e.g. a company foundation day.
	// Order and duplicates do not matter.
	VendorHolidays []Date
	// NoYearEnd turns off the 29 December – 3 January closure (default:
	// closed). 1 January stays closed as 元日 (within MinYear–MaxYear).
	NoYearEnd bool
}

// Reasons returned by Calendar.Closed besides a national holiday's name.
const (
	ReasonSaturday = "土曜日"
	ReasonSunday   = "日曜日"
	ReasonYearEnd  = "年末年始休業" // 29 December – 3 January
	ReasonVendor   = "会社休日"   // one of VendorHolidays
)

// IsBusinessDay reports whether d is a business day: a weekday that is no
// national holiday, not in the year-end closure (unless NoYearEnd) and not a
// vendor holiday.
func (c Calendar) IsBusinessDay(d Date) bool {
	d = d.norm()
	p := ydayOf(d)
	return maskOf(p.y, c.NoYearEnd).has(p.doy) && !c.isVendorHoliday(d.days())
}

// Closed reports whether d is closed and why, in Japanese: the national
// holiday's name (e.g. "憲法記念日", NameSubstitute), else ReasonYearEnd,
// ReasonVendor, ReasonSaturday or ReasonSunday, the most specific first.
// It agrees with IsBusinessDay: closed == !c.IsBusinessDay(d).
func (c Calendar) Closed(d Date) (reason string, closed bool) {
	d = d.norm()
	if h, ok := Holiday(d); ok {
		return h.Name, true
	}
	if !c.NoYearEnd && inYearEnd(d) {
		return ReasonYearEnd, true
	}
	if c.isVendorHoliday(d.days()) {
		return ReasonVendor, true
	}
	switch d.Weekday() {
	case time.Saturday:
		return ReasonSaturday, true
	case time.Sunday:
		return ReasonSunday, true
	}
	return "", false
}

func inYearEnd(d Date) bool {
	return (d.Month == time.December && d.Day >= 29) || (d.Month == time.January && d.Day <= 3)
}

// AddBusinessDays returns the n-th business day after from: day 1 is the
// first business day after from, which itself never counts, even when it is
// a business day (a fix due "14 business days after disclosure" on a
// Saturday is due on the 14th business day after that Saturday). n == 0
// returns from; n < 0 counts back, day -1 being the last business day
// before from.
//
// For n >= 0, BusinessDaysBetween(from, AddBusinessDays(from, n)) == n; for
// n < 0 that holds when from is a business day.
func (c Calendar) AddBusinessDays(from Date, n int) Date {
	from = from.norm()
	if n == 0 {
		return from
	}
	p := ydayOf(from)
	if n > 0 {
		r := nthOpenAfter(p, n, c.NoYearEnd)
		if len(c.VendorHolidays) > 0 {
			// Every vendor holiday passed over is one business day fewer:
			// walk on by that many, then check the stretch just added.
			lo := from.days()
			for {
				hi := r.days()
				k := c.vendorClosures(lo, hi)
				if k == 0 {
					break
				}
				lo = hi
				r = nthOpenAfter(r, k, c.NoYearEnd)
			}
		}
		return r.date()
	}
	r := nthOpenBefore(p, -n, c.NoYearEnd)
	if len(c.VendorHolidays) > 0 {
		hi := from.days() - 1
		for {
			lo := r.days() - 1
			k := c.vendorClosures(lo, hi)
			if k == 0 {
				break
			}
			hi = lo
			r = nthOpenBefore(r, k, c.NoYearEnd)
		}
	}
	return r.date()
}

// BusinessDaysBetween returns the number of business days d with
// from < d <= to, or minus the number with to < d <= from when to is before
// from. So BusinessDaysBetween(x, c.AddBusinessDays(x, n)) == n for n >= 0,
// and a deadline has passed on day t when BusinessDaysBetween(disclosed, t)
// exceeds the allowance.
func (c Calendar) BusinessDaysBetween(from, to Date) int {
	from, to = from.norm(), to.norm()
	a, b := from.days(), to.days()
	sign := 1
	if a == b {
		return 0
	}
	if a > b {
		from, to, a, b, sign = to, from, b, a, -1
	}
	lo, hi := ydayOf(from), ydayOf(to)
	n := 0
	for y := lo.y; y <= hi.y; y++ {
		first, last := 0, yearLen(y)-1
		if y == lo.y {
			first = lo.doy + 1
		}
		if y == hi.y {
			last = hi.doy
		}
		if first <= last {
			n += maskOf(y, c.NoYearEnd).popRange(first, last)
		}
	}
	if len(c.VendorHolidays) > 0 {
		n -= c.vendorClosures(a, b)
	}
	return sign * n
}

// isVendorHoliday reports whether day number z is one of VendorHolidays.
func (c Calendar) isVendorHoliday(z int) bool {
	for _, v := range c.VendorHolidays {
		if v.days() == z {
			return true
		}
	}
	return false
}

// vendorClosures counts the distinct vendor holidays with day numbers in
// (lo, hi] that the national calendar would have open: those are the
// business days the vendor takes away there. Vendor lists are short, so a
// scan beats building a set per call; the duplicate check runs only for
// days in range.
func (c Calendar) vendorClosures(lo, hi int) int {
	n := 0
	for i, v := range c.VendorHolidays {
		z := v.days()
		if z <= lo || z > hi {
			continue
		}
		p := ydayOf(fromDays(z))
		if !maskOf(p.y, c.NoYearEnd).has(p.doy) {
			continue
		}
		dup := false
		for _, u := range c.VendorHolidays[:i] {
			if u.days() == z {
				dup = true
				break
			}
		}
		if !dup {
			n++
		}
	}
	return n
}

// nthOpenAfter returns the n-th (n >= 1) day after p that is open in the
// national calendar, scanning a word of the year bitmap at a time.
func nthOpenAfter(p yday, n int, noYearEnd bool) yday {
	y, lo := p.y, p.doy+1
	for {
		if lo < yearLen(y) {
			m := maskOf(y, noYearEnd)
			for w := lo >> 6; w < len(m); w++ {
				x := m[w]
				if w == lo>>6 {
					x &= ^uint64(0) << (lo & 63)
				}
				if c := bits.OnesCount64(x); n > c {
					n -= c
					continue
				}
				for ; n > 1; n-- {
					x &= x - 1 // drop the lowest set bit
				}
				return yday{y, w<<6 + bits.TrailingZeros64(x)}
			}
		}
		y, lo = y+1, 0
	}
}

// nthOpenBefore returns the n-th (n >= 1) day before p that is open in the
// national calendar.
func nthOpenBefore(p yday, n int, noYearEnd bool) yday {
	y, hi := p.y, p.doy-1
	for {
		if hi >= 0 {
			m := maskOf(y, noYearEnd)
			for w := hi >> 6; w >= 0; w-- {
				x := m[w]
				if w == hi>>6 {
					x &= ^uint64(0) >> (63 - hi&63)
				}
				if c := bits.OnesCount64(x); n > c {
					n -= c
					continue
				}
				for ; n > 1; n-- {
					x &^= 1 << (63 - bits.LeadingZeros64(x)) // drop the highest
				}
				return yday{y, w<<6 + 63 - bits.LeadingZeros64(x)}
			}
		}
		y--
		hi = yearLen(y) - 1
	}
}
