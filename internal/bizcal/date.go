package bizcal

import (
	"fmt"
	"time"
)

// jst is Japan Standard Time. Japan has had no daylight saving time since
// 1951, so a fixed zone is exact and spares the binary a tzdata dependency.
var jst = time.FixedZone("JST", 9*60*60)

// Date is a calendar day in Japan: no time of day, no zone. Build it with D
// or ParseDate; methods normalise out-of-range fields the way time.Date does
// (Date{2026, 2, 30} is 2026-03-02), so comparisons never depend on how a
// day was spelled.
type Date struct {
	Year  int
	Month time.Month
	Day   int
}

// D returns the date y-m-d, normalised like time.Date: D(2026, 12, 32) is
// 2027-01-01 and D(2026, 3, 0) is 2026-02-28.
func D(y int, m time.Month, d int) Date {
	return Date{y, m, d}.norm()
}

// DateOf returns the day that t falls on in Japan (Asia/Tokyo), whatever
// t's own location: a CVE disclosed at 2026-04-30T20:00Z was disclosed on
// 2026-05-01 for the SLA.
func DateOf(t time.Time) Date {
	y, m, d := t.In(jst).Date()
	return Date{y, m, d}
}

// Time returns midnight at the start of d in Japan (JST), the inverse of
// DateOf.
func (d Date) Time() time.Time {
	d = d.norm()
	return time.Date(d.Year, d.Month, d.Day, 0, 0, 0, 0, jst)
}

// ParseDate parses s as "YYYY-MM-DD" exactly: four-digit year, two-digit
// month and day, a real calendar day. Anything looser ("2026-2-3",
// "2026/02/03", "2026-02-30") is an error naming the value, because a
// silently misread date would move an SLA deadline.
func ParseDate(s string) (Date, error) {
	if len(s) != 10 || s[4] != '-' || s[7] != '-' {
		return Date{}, fmt.Errorf("bizcal: invalid date %q: want YYYY-MM-DD, e.g. 2026-04-28", s)
	}
	y, ok1 := atoiDigits(s[0:4])
	m, ok2 := atoiDigits(s[5:7])
	d, ok3 := atoiDigits(s[8:10])
	if !ok1 || !ok2 || !ok3 {
		return Date{}, fmt.Errorf("bizcal: invalid date %q: want YYYY-MM-DD, e.g. 2026-04-28", s)
	}
	if m < 1 || m > 12 {
		return Date{}, fmt.Errorf("bizcal: invalid date %q: month %d is not 01-12 (want YYYY-MM-DD)", s, m)
	}
	if n := daysIn(y, time.Month(m)); d < 1 || d > n {
		return Date{}, fmt.Errorf("bizcal: invalid date %q: %s %d has no day %d (want YYYY-MM-DD)", s, time.Month(m), y, d)
	}
	return Date{y, time.Month(m), d}, nil
}

// atoiDigits parses a string of ASCII digits only; strconv.Atoi would also
// take signs.
func atoiDigits(s string) (int, bool) {
	n := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	return n, true
}

// String returns d as "YYYY-MM-DD", the form ParseDate reads.
func (d Date) String() string {
	d = d.norm()
	if d.Year < 0 || d.Year > 9999 {
		return fmt.Sprintf("%04d-%02d-%02d", d.Year, int(d.Month), d.Day)
	}
	b := [10]byte{
		byte('0' + d.Year/1000), byte('0' + d.Year/100%10), byte('0' + d.Year/10%10), byte('0' + d.Year%10),
		'-', byte('0' + int(d.Month)/10), byte('0' + int(d.Month)%10),
		'-', byte('0' + d.Day/10), byte('0' + d.Day%10),
	}
	return string(b[:])
}

// AddDays returns the day n calendar days after d (before it if n < 0).
func (d Date) AddDays(n int) Date {
	return fromDays(d.days() + n)
}

// Weekday returns the day of the week of d.
func (d Date) Weekday() time.Weekday {
	// 1970-01-01, day 0, was a Thursday.
	return time.Weekday(floorMod(d.days()+4, 7))
}

// Compare returns -1, 0 or +1 as d is before, the same day as, or after e.
func (d Date) Compare(e Date) int {
	a, b := d.days(), e.days()
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// Before reports whether d is before e.
func (d Date) Before(e Date) bool { return d.days() < e.days() }

// After reports whether d is after e.
func (d Date) After(e Date) bool { return d.days() > e.days() }

// valid reports whether d's fields already name a real day.
func (d Date) valid() bool {
	return d.Month >= time.January && d.Month <= time.December &&
		d.Day >= 1 && (d.Day <= 28 || d.Day <= daysIn(d.Year, d.Month))
}

// norm returns d with its fields in range; the check first keeps the common
// case cheap.
func (d Date) norm() Date {
	if d.valid() {
		return d
	}
	return fromDays(d.days())
}

// days returns the number of days from 1970-01-01 to d, normalising
// out-of-range fields. It is the days-from-civil algorithm of Howard
// Hinnant's "chrono-Compatible Low-Level Date Algorithms": plain integer
// arithmetic, much cheaper than going through time.Time.
func (d Date) days() int {
	y, m := d.Year, int(d.Month)-1
	if m < 0 || m > 11 {
		q := floorDiv(m, 12)
		y += q
		m -= q * 12
	}
	m++
	if m <= 2 {
		y--
	}
	era := floorDiv(y, 400)
	yoe := y - era*400
	doy := (153*((m+9)%12)+2)/5 + d.Day - 1 // linear in Day, so any Day works
	doe := yoe*365 + yoe/4 - yoe/100 + doy
	return era*146097 + doe - 719468
}

// fromDays is the inverse of days (civil-from-days).
func fromDays(z int) Date {
	z += 719468
	era := floorDiv(z, 146097)
	doe := z - era*146097
	yoe := (doe - doe/1460 + doe/36524 - doe/146096) / 365
	doy := doe - (365*yoe + yoe/4 - yoe/100)
	mp := (5*doy + 2) / 153
	d := doy - (153*mp+2)/5 + 1
	m := mp + 3
	if m > 12 {
		m -= 12
	}
	y := yoe + era*400
	if m <= 2 {
		y++
	}
	return Date{y, time.Month(m), d}
}

func floorDiv(a, b int) int {
	q := a / b
	if a%b != 0 && (a < 0) != (b < 0) {
		q--
	}
	return q
}

func floorMod(a, b int) int { return a - floorDiv(a, b)*b }

func isLeap(y int) bool { return y%4 == 0 && (y%100 != 0 || y%400 == 0) }

func yearLen(y int) int {
	if isLeap(y) {
		return 366
	}
	return 365
}

// cumDays[m-1] is the number of days before month m in a common year.
var cumDays = [13]int{0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334, 365}

func daysIn(y int, m time.Month) int {
	if m == time.February && isLeap(y) {
		return 29
	}
	return cumDays[m] - cumDays[m-1]
}

// yday is a day as year and 0-based day of the year, the index into the
// per-year bitmaps.
type yday struct{ y, doy int }

// ydayOf converts a normalised Date.
func ydayOf(d Date) yday {
	doy := cumDays[d.Month-1] + d.Day - 1
	if d.Month > time.February && isLeap(d.Year) {
		doy++
	}
	return yday{d.Year, doy}
}

func (p yday) date() Date {
	doy := p.doy
	if isLeap(p.y) {
		switch {
		case doy == 59:
			return Date{p.y, time.February, 29}
		case doy > 59:
			doy--
		}
	}
	m := doy / 31 // cumDays[k] <= 31k, so this never overshoots
	for m < 11 && cumDays[m+1] <= doy {
		m++
	}
	return Date{p.y, time.Month(m + 1), doy - cumDays[m] + 1}
}

// days is the day number (see Date.days) of p.
func (p yday) days() int { return Date{p.y, time.January, 1 + p.doy}.days() }
