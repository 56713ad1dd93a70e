package support

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/enmei-project/enmei/internal/entitle"
	"github.com/enmei-project/enmei/internal/errs"
)

// A recurring maintenance notice (the monthly PKI window, say) is given as
// an RFC 5545 RRULE and the first window. The subset implemented here is
// what maintenance windows need: FREQ DAILY, WEEKLY, MONTHLY or YEARLY,
// INTERVAL, COUNT, UNTIL, BYDAY (with ordinals such as 3TU or -1FR in
// MONTHLY and YEARLY rules), BYMONTHDAY, BYMONTH and WKST. Rules are
// evaluated in Asia/Tokyo on whole days, each occurrence starting at the
// first window's time of day; as in RFC 5545, days that do not exist (30
// February) are skipped, not moved.
//
// It is implemented here rather than with an RRULE library because
// evaluation can then start at the period containing the time asked about
// instead of walking from the first window, and because a mistyped rule
// deserves an error that says what is wrong.

// Window is one maintenance window, [Start, End).
type Window struct{ Start, End time.Time }

// Recurrence is a parsed recurring maintenance window. The zero value has
// no occurrences.
type Recurrence struct {
	first    time.Time     // the first window's start, in Tokyo
	length   time.Duration // of each window
	tod      time.Duration // first's offset from its midnight
	firstDay int           // day number (see dayNo) of first

	freq     frequency
	interval int
	byMonth  uint16 // bit m set for month m; 0 for no BYMONTH
	byMDay   []int  // BYMONTHDAY: 1..31 or -31..-1
	byDay    []nthWeekday
	wkst     time.Weekday
	yearOrd  bool // BYDAY ordinals count within the year, not the month

	// last bounds the occurrences (the last start allowed) when COUNT or
	// UNTIL is given; zero for an endless rule.
	last time.Time
}

type frequency int

const (
	daily frequency = iota + 1
	weekly
	monthly
	yearly
)

// nthWeekday is a BYDAY entry: n == 0 for every such weekday, else the
// n-th (from the end when negative) in the month or year.
type nthWeekday struct {
	n  int
	wd time.Weekday
}

var weekdayCodes = map[string]time.Weekday{
	"SU": time.Sunday, "MO": time.Monday, "TU": time.Tuesday, "WE": time.Wednesday,
	"TH": time.Thursday, "FR": time.Friday, "SA": time.Saturday,
}

// Limits on numbers in a rule: beyond them a rule is a typo, and they keep
// evaluation cheap (COUNT is walked once when the rule is parsed).
const (
	maxInterval = 1000
	maxCount    = 100000
	maxYear     = 9999 // no occurrence after this year, like other RRULE engines
)

// ParseRecurrence parses rrule (an RFC 5545 RRULE value, with or without
// "RRULE:") for windows of the given length, the first starting at
// firstStart. firstStart must itself be an occurrence of the rule (RFC 5545
// leaves a DTSTART out of step with its rule undefined); the error names
// the first occurrence after it.
func ParseRecurrence(rrule string, firstStart time.Time, length time.Duration) (Recurrence, error) {
	bad := func(format string, args ...any) (Recurrence, error) {
		return Recurrence{}, errs.E(errs.Invalid, "recurrence rule %q: %s", rrule, fmt.Sprintf(format, args...))
	}
	if length <= 0 {
		return bad("the window length %s is not positive", length)
	}
	first := firstStart.In(entitle.Tokyo)
	r := Recurrence{first: first, length: length, interval: 1, wkst: time.Monday}
	r.firstDay, r.tod = dayOf(first)

	body := strings.TrimSpace(rrule)
	if len(body) >= 6 && strings.EqualFold(body[:6], "RRULE:") {
		body = body[6:]
	}
	if body == "" {
		return bad("the rule is empty: write e.g. FREQ=MONTHLY;BYDAY=3TU")
	}
	var (
		count int
		until time.Time
		seen  = map[string]bool{}
	)
	for _, part := range strings.Split(body, ";") {
		key, val, ok := strings.Cut(part, "=")
		key = strings.ToUpper(strings.TrimSpace(key))
		val = strings.ToUpper(strings.TrimSpace(val))
		if !ok || key == "" || val == "" {
			return bad("%q is not a NAME=VALUE part", part)
		}
		if seen[key] {
			return bad("%s is given twice", key)
		}
		seen[key] = true
		var err error
		switch key {
		case "FREQ":
			switch val {
			case "DAILY":
				r.freq = daily
			case "WEEKLY":
				r.freq = weekly
			case "MONTHLY":
				r.freq = monthly
			case "YEARLY":
				r.freq = yearly
			case "HOURLY", "MINUTELY", "SECONDLY":
				return bad("FREQ=%s is not supported: maintenance windows recur at most daily (DAILY, WEEKLY, MONTHLY or YEARLY)", val)
			default:
				return bad("FREQ=%s is not a frequency: use DAILY, WEEKLY, MONTHLY or YEARLY", val)
			}
		case "INTERVAL":
			r.interval, err = ruleInt(key, val, 1, maxInterval)
		case "COUNT":
			count, err = ruleInt(key, val, 1, maxCount)
		case "UNTIL":
			until, err = parseUntil(val)
		case "BYMONTH":
			err = eachValue(key, val, func(s string) error {
				m, err := ruleInt(key, s, 1, 12)
				r.byMonth |= 1 << m
				return err
			})
		case "BYMONTHDAY":
			err = eachValue(key, val, func(s string) error {
				d, err := ruleInt(key, s, -31, 31)
				if err == nil && d == 0 {
					err = fmt.Errorf("BYMONTHDAY=0 is not a day: use 1 to 31, or -1 to -31 counting from the end of the month")
				}
				r.byMDay = append(r.byMDay, d)
				return err
			})
		case "BYDAY":
			err = eachValue(key, val, func(s string) error {
				e, err := parseByDay(s)
				r.byDay = append(r.byDay, e)
				return err
			})
		case "WKST":
			wd, ok := weekdayCodes[val]
			if !ok {
				err = fmt.Errorf("WKST=%s is not a weekday: use MO, TU, WE, TH, FR, SA or SU", val)
			}
			r.wkst = wd
		case "BYSETPOS", "BYYEARDAY", "BYWEEKNO", "BYHOUR", "BYMINUTE", "BYSECOND":
			return bad("%s is not supported: use BYDAY, BYMONTHDAY and BYMONTH (the time of day is that of the first window)", key)
		default:
			return bad("%s is not an RRULE part: use FREQ, INTERVAL, COUNT, UNTIL, BYDAY, BYMONTHDAY, BYMONTH or WKST", key)
		}
		if err != nil {
			return bad("%v", err)
		}
	}

	// Rules that RFC 5545 forbids or leaves meaningless.
	switch {
	case r.freq == 0:
		return bad("FREQ is missing: say how often it recurs, e.g. FREQ=MONTHLY")
	case count > 0 && !until.IsZero():
		return bad("COUNT and UNTIL cannot both be given: end the rule one way")
	case r.freq == weekly && len(r.byMDay) > 0:
		return bad("BYMONTHDAY cannot be used with FREQ=WEEKLY: use FREQ=MONTHLY")
	}
	for _, e := range r.byDay {
		switch {
		case e.n == 0:
		case r.freq == daily || r.freq == weekly:
			return bad("BYDAY ordinals such as %s work only with FREQ=MONTHLY or YEARLY", e)
		case (r.freq == monthly || r.byMonth != 0) && (e.n > 5 || e.n < -5):
			return bad("BYDAY %s: a month has at most 5 of each weekday", e)
		}
	}

	// Fill in what RFC 5545 takes from DTSTART: a monthly rule without days
	// recurs on the first window's day of the month, and so on.
	_, fm, fd := civil(r.firstDay)
	switch r.freq {
	case weekly:
		if len(r.byDay) == 0 {
			r.byDay = []nthWeekday{{wd: weekday(r.firstDay)}}
		}
	case monthly:
		if len(r.byDay) == 0 && len(r.byMDay) == 0 {
			r.byMDay = []int{fd}
		}
	case yearly:
		if len(r.byDay) == 0 && len(r.byMDay) == 0 {
			if r.byMonth == 0 {
				r.byMonth = 1 << fm
			}
			r.byMDay = []int{fd}
		}
		r.yearOrd = r.byMonth == 0
	}

	if !until.IsZero() {
		if until.Before(first) {
			return bad("UNTIL %s is before the first window's start %s", rfc3339(until), rfc3339(first))
		}
		r.last = until
	}
	if !r.possible() {
		return bad("BYMONTHDAY never falls in the months the rule allows")
	}
	got, ok := r.next(r.firstDay, r.first)
	if !ok {
		return bad("it has no occurrence on or after the first window's start %s", rfc3339(first))
	}
	if !got.Equal(first) {
		return bad("the first window's start %s is not an occurrence of the rule: the first one after it is %s", rfc3339(first), rfc3339(got))
	}
	if count > 0 {
		// Turn COUNT into the last start, so that later questions can start
		// at the period they are about instead of counting from the first.
		n := 0
		r.each(r.firstDay, endDay, func(t time.Time) bool {
			n++
			r.last = t
			return n < count
		})
	}
	return r, nil
}

// possible reports whether some BYMONTHDAY exists in some allowed month,
// catching rules such as BYMONTH=2;BYMONTHDAY=30 without searching the
// calendar to the year 9999 for them.
func (r Recurrence) possible() bool {
	if len(r.byMDay) == 0 {
		return true
	}
	longest := [13]int{0, 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31}
	for m := 1; m <= 12; m++ {
		if r.byMonth != 0 && r.byMonth&(1<<m) == 0 {
			continue
		}
		for _, v := range r.byMDay {
			if v <= longest[m] && -v <= longest[m] {
				return true
			}
		}
	}
	return false
}

// ruleInt parses an integer value of a rule part within [lo, hi].
func ruleInt(key, s string, lo, hi int) (int, error) {
	n, err := strconv.Atoi(s)
	if err != nil || n < lo || n > hi {
		return 0, fmt.Errorf("%s=%s is not valid: use a whole number from %d to %d", key, s, lo, hi)
	}
	return n, nil
}

// eachValue calls fn for each of the comma-separated values of a part.
func eachValue(key, val string, fn func(string) error) error {
	for _, s := range strings.Split(val, ",") {
		if s = strings.TrimSpace(s); s == "" {
			return fmt.Errorf("%s=%s has an empty value", key, val)
		}
		if err := fn(s); err != nil {
			return err
		}
	}
	return nil
}

// parseByDay parses a BYDAY value: a weekday code with an optional signed
// ordinal, e.g. TU, 3TU, +3TU or -1FR.
func parseByDay(s string) (nthWeekday, error) {
	bad := fmt.Errorf("BYDAY value %q is not a weekday: write MO, TU, WE, TH, FR, SA or SU, optionally after an ordinal as in 3TU (third Tuesday) or -1FR (last Friday)", s)
	if len(s) < 2 {
		return nthWeekday{}, bad
	}
	wd, ok := weekdayCodes[s[len(s)-2:]]
	if !ok {
		return nthWeekday{}, bad
	}
	e := nthWeekday{wd: wd}
	if num := s[:len(s)-2]; num != "" {
		n, err := strconv.Atoi(num)
		if err != nil || n == 0 || n < -53 || n > 53 {
			return nthWeekday{}, bad
		}
		e.n = n
	}
	return e, nil
}

// String is the entry as written in BYDAY.
func (e nthWeekday) String() string {
	code := ""
	for k, v := range weekdayCodes {
		if v == e.wd {
			code = k
		}
	}
	if e.n == 0 {
		return code
	}
	return strconv.Itoa(e.n) + code
}

// parseUntil reads UNTIL: a UTC date-time (…Z), a local date-time, read in
// Asia/Tokyo, or a date, which lets windows start until the end of that day.
func parseUntil(s string) (time.Time, error) {
	for _, f := range []struct {
		layout string
		loc    *time.Location
	}{{"20060102T150405Z", time.UTC}, {"20060102T150405", entitle.Tokyo}, {"20060102", entitle.Tokyo}} {
		if len(s) != len(f.layout) {
			continue
		}
		t, err := time.ParseInLocation(f.layout, s, f.loc)
		if err != nil {
			break
		}
		if len(s) == len("20060102") {
			t = t.AddDate(0, 0, 1).Add(-time.Nanosecond)
		}
		return t, nil
	}
	return time.Time{}, fmt.Errorf("UNTIL=%s is not a date or time: write e.g. 20271231, 20271231T220000 (Asia/Tokyo) or 20271231T130000Z (UTC)", s)
}

// Between returns the windows that overlap [from, to), in order.
func (r Recurrence) Between(from, to time.Time) []Window {
	if r.interval == 0 || !to.After(from) {
		return nil
	}
	var ws []Window
	// A window overlaps only if it starts after from-length.
	lo := from.Add(-r.length)
	loDay, _ := dayOf(lo)
	toDay, _ := dayOf(to)
	r.each(loDay, toDay, func(t time.Time) bool {
		if !t.Before(to) {
			return false
		}
		if t.After(lo) {
			ws = append(ws, Window{t, t.Add(r.length)})
		}
		return true
	})
	return ws
}

// Next returns the first window that ends after after: the one in progress
// at after, else the next to start. false when the rule has ended.
func (r Recurrence) Next(after time.Time) (Window, bool) {
	if r.interval == 0 {
		return Window{}, false
	}
	lo := after.Add(-r.length)
	loDay, _ := dayOf(lo)
	var w Window
	found := false
	r.each(loDay, endDay, func(t time.Time) bool {
		if t.After(lo) {
			w, found = Window{t, t.Add(r.length)}, true
		}
		return !found
	})
	return w, found
}

// next returns the first occurrence at or after t, whose day is day.
func (r Recurrence) next(day int, t time.Time) (time.Time, bool) {
	var got time.Time
	found := false
	r.each(day, endDay, func(s time.Time) bool {
		if !s.Before(t) {
			got, found = s, true
		}
		return !found
	})
	return got, found
}

// each calls fn with the starts of the occurrences, in order, from the
// period containing day fromDay until fn returns false, the rule ends, or
// the periods start after day stopDay.
func (r Recurrence) each(fromDay, stopDay int, fn func(time.Time) bool) {
	if r.interval == 0 {
		return
	}
	if !r.last.IsZero() {
		lastDay, _ := dayOf(r.last)
		stopDay = min(stopDay, lastDay)
	}
	for k := max(0, r.periodOf(fromDay)); ; k++ {
		lo, hi := r.period(k)
		if lo > stopDay || lo >= endDay {
			return
		}
		for n := lo; n < hi; n++ {
			if !r.match(n) {
				continue
			}
			t := midnight(n).Add(r.tod)
			if t.Before(r.first) {
				continue
			}
			if !r.last.IsZero() && t.After(r.last) || !fn(t) {
				return
			}
		}
	}
}

// period returns the days [lo, hi) of the k-th period of the rule, k = 0
// being the one that holds the first window: with INTERVAL=2 and
// FREQ=MONTHLY, every other month from the first window's.
func (r Recurrence) period(k int) (lo, hi int) {
	y, m, _ := civil(r.firstDay)
	switch r.freq {
	case daily:
		lo = r.firstDay + k*r.interval
		return lo, lo + 1
	case weekly:
		lo = r.weekStart() + 7*k*r.interval
		return lo, lo + 7
	case monthly:
		mi := y*12 + int(m) - 1 + k*r.interval
		y, m = floorDiv(mi, 12), time.Month(mi-floorDiv(mi, 12)*12+1)
		return dayNo(y, m, 1), dayNo(y, m+1, 1)
	}
	y += k * r.interval
	return dayNo(y, time.January, 1), dayNo(y+1, time.January, 1)
}

// periodOf returns the index of the period holding day n (negative before
// the first).
func (r Recurrence) periodOf(n int) int {
	fy, fm, _ := civil(r.firstDay)
	y, m, _ := civil(n)
	switch r.freq {
	case daily:
		return floorDiv(n-r.firstDay, r.interval)
	case weekly:
		return floorDiv(n-r.weekStart(), 7*r.interval)
	case monthly:
		return floorDiv((y*12+int(m))-(fy*12+int(fm)), r.interval)
	}
	return floorDiv(y-fy, r.interval)
}

// weekStart is the first day (WKST) of the week holding the first window.
func (r Recurrence) weekStart() int {
	return r.firstDay - (int(weekday(r.firstDay))-int(r.wkst)+7)%7
}

// match reports whether day n passes the BY parts. Within a period every
// day is tried, so RFC 5545's "expand" parts (BYDAY in a WEEKLY rule, say)
// and its "limit" parts (BYMONTH in a DAILY one) both come down to a
// filter.
func (r Recurrence) match(n int) bool {
	y, m, d := civil(n)
	if r.byMonth != 0 && r.byMonth&(1<<m) == 0 {
		return false
	}
	if len(r.byMDay) > 0 {
		dim := dayNo(y, m+1, 1) - dayNo(y, m, 1)
		ok := false
		for _, v := range r.byMDay {
			if v == d || v < 0 && dim+1+v == d {
				ok = true
				break
			}
		}
		if !ok {
			return false
		}
	}
	if len(r.byDay) == 0 {
		return true
	}
	wd := weekday(n)
	for _, e := range r.byDay {
		if e.wd != wd {
			continue
		}
		if e.n == 0 {
			return true
		}
		// The n-th such weekday of the month (or of the year).
		lo, hi := dayNo(y, m, 1), dayNo(y, m+1, 1)
		if r.yearOrd {
			lo, hi = dayNo(y, time.January, 1), dayNo(y+1, time.January, 1)
		}
		if e.n > 0 && (n-lo)/7 == e.n-1 || e.n < 0 && (hi-1-n)/7 == -e.n-1 {
			return true
		}
	}
	return false
}

// Days are numbered from 1970-01-01 (day 0), the day in Asia/Tokyo.

const jstOffset = 9 * 60 * 60 // seconds east of UTC

// endDay is the day after the last on which an occurrence may fall.
var endDay = dayNo(maxYear+1, time.January, 1)

// dayNo is the number of the day y-m-d (normalised like time.Date).
func dayNo(y int, m time.Month, d int) int {
	return int(floorDiv64(time.Date(y, m, d, 0, 0, 0, 0, time.UTC).Unix(), 86400))
}

// civil is the inverse of dayNo.
func civil(n int) (int, time.Month, int) {
	return time.Unix(int64(n)*86400, 0).UTC().Date()
}

// dayOf returns the number of t's day in Tokyo and t's offset from its
// midnight.
func dayOf(t time.Time) (int, time.Duration) {
	s := t.Unix() + jstOffset
	n := floorDiv64(s, 86400)
	return int(n), time.Duration(s-n*86400)*time.Second + time.Duration(t.Nanosecond())
}

// midnight is the start of day n in Tokyo.
func midnight(n int) time.Time {
	return time.Unix(int64(n)*86400-jstOffset, 0).In(entitle.Tokyo)
}

func weekday(n int) time.Weekday {
	return time.Weekday((n%7 + 7 + 4) % 7) // day 0 was a Thursday
}

func floorDiv(a, b int) int {
	q := a / b
	if a%b != 0 && (a < 0) != (b < 0) {
		q--
	}
	return q
}

func floorDiv64(a, b int64) int64 {
	q := a / b
	if a%b != 0 && (a < 0) != (b < 0) {
		q--
	}
	return q
}
