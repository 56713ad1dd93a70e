package support

import (
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/enmei-project/enmei/internal/errs"
)

func TestCheckNoticeLead(t *testing.T) {
	now := jst(t, "2026-06-01 10:00")
	week := now.Add(NoticeLead)
	for _, c := range []struct {
		name       string
		now        time.Time
		start, end time.Time
		emergency  bool
		wantErr    []string // substrings of the error; nil for none
	}{
		{"exactly 7 days", now, week, week.Add(2 * time.Hour), false, nil},
		{"more than 7 days", now, week.Add(time.Hour), week.Add(2 * time.Hour), false, nil},
		{"one second short", now, week.Add(-time.Second), week.Add(2 * time.Hour), false,
			[]string{"7 days", "2026-06-08T09:59:59+09:00", "earliest allowed start is 2026-06-08T10:00:00+09:00", "--emergency"}},
		{"tomorrow", now, now.Add(24 * time.Hour), now.Add(26 * time.Hour), false, []string{"7 days", "--emergency"}},
		{"emergency tomorrow", now, now.Add(24 * time.Hour), now.Add(26 * time.Hour), true, nil},
		{"emergency now", now, now, now.Add(time.Hour), true, nil},
		{"end equals start", now, week, week, false, []string{"end", "not after its start"}},
		{"end before start", now, week, week.Add(-time.Hour), true, []string{"end", "not after its start"}},
		// now with a fraction of a second: the earliest start printed is
		// rounded up, so that it is itself accepted.
		{"sub-second now", now.Add(300 * time.Millisecond), week, week.Add(time.Hour), false,
			[]string{"earliest allowed start is 2026-06-08T10:00:01+09:00"}},
		{"sub-second now, the rounded start", now.Add(300 * time.Millisecond), week.Add(time.Second), week.Add(time.Hour), false, nil},
		// Times in other zones are shown in Asia/Tokyo.
		{"UTC arguments", now.UTC(), week.Add(-time.Hour).UTC(), week.UTC(), false,
			[]string{"2026-06-08T09:00:00+09:00", "2026-06-08T10:00:00+09:00"}},
	} {
		err := CheckNoticeLead(c.now, c.start, c.end, c.emergency)
		if c.wantErr == nil {
			if err != nil {
				t.Errorf("%s: %v", c.name, err)
			}
			continue
		}
		if !errs.Is(err, errs.Invalid) {
			t.Errorf("%s: err = %v, want an invalid error", c.name, err)
			continue
		}
		for _, s := range c.wantErr {
			if !strings.Contains(err.Error(), s) {
				t.Errorf("%s: %q does not contain %q", c.name, err, s)
			}
		}
	}
}

// thirdTuesday is the day of the month of the third Tuesday.
func thirdTuesday(y int, m time.Month) int {
	d := 1
	for time.Date(y, m, d, 0, 0, 0, 0, time.UTC).Weekday() != time.Tuesday {
		d++
	}
	return d + 14
}

func mustRecurrence(t testing.TB, rule string, first time.Time, length time.Duration) Recurrence {
	t.Helper()
	r, err := ParseRecurrence(rule, first, length)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// The monthly PKI window: third Tuesday, 22:00–08:00 JST.
func TestRecurrencePKIWindow(t *testing.T) {
	r := mustRecurrence(t, "FREQ=MONTHLY;BYDAY=3TU", jst(t, "2027-01-19 22:00"), 10*time.Hour)
	ws := r.Between(jst(t, "2027-01-01 00:00"), jst(t, "2028-01-01 00:00"))
	want := []string{"01-19", "02-16", "03-16", "04-20", "05-18", "06-15", "07-20", "08-17", "09-21", "10-19", "11-16", "12-21"}
	if len(ws) != len(want) {
		t.Fatalf("%d windows in 2027, want %d: %v", len(ws), len(want), ws)
	}
	for i, w := range ws {
		y, m, d := w.Start.Date()
		if y != 2027 || m != time.Month(i+1) || d != thirdTuesday(y, m) || w.Start.Weekday() != time.Tuesday ||
			w.Start.Format("01-02") != want[i] {
			t.Errorf("window %d starts %s, not on the third Tuesday of %s 2027", i, w.Start, time.Month(i+1))
		}
		if h, mi, s := w.Start.Clock(); h != 22 || mi != 0 || s != 0 {
			t.Errorf("window %d starts at %s, not 22:00", i, w.Start)
		}
		if _, off := w.Start.Zone(); off != 9*3600 {
			t.Errorf("window %d is not in Asia/Tokyo: %s", i, w.Start)
		}
		if got := w.End.Sub(w.Start); got != 10*time.Hour || w.End.Hour() != 8 {
			t.Errorf("window %d: %s – %s, want 10 hours ending at 08:00", i, w.Start, w.End)
		}
	}

	for _, c := range []struct {
		name     string
		from, to string
		want     []string // window starts
	}{
		{"in progress at from", "2027-01-20 07:00", "2027-01-20 07:30", []string{"2027-01-19 22:00"}},
		{"ended exactly at from", "2027-01-20 08:00", "2027-02-16 22:00", nil}, // [from, to) is half-open at both ends
		{"starting just before to", "2027-01-20 08:00", "2027-02-16 22:01", []string{"2027-02-16 22:00"}},
		{"before the first", "2026-01-01 00:00", "2027-01-19 22:00", nil},
		{"across a year", "2027-12-01 00:00", "2028-02-01 00:00", []string{"2027-12-21 22:00", "2028-01-18 22:00"}},
		{"empty range", "2027-03-16 23:00", "2027-03-16 23:00", nil},
		{"reversed range", "2027-04-01 00:00", "2027-03-01 00:00", nil},
		{"far ahead", "2090-01-01 00:00", "2090-02-01 00:00", []string{"2090-01-17 22:00"}},
	} {
		got := r.Between(jst(t, c.from), jst(t, c.to))
		if len(got) != len(c.want) {
			t.Errorf("%s: Between = %v, want starts %v", c.name, got, c.want)
			continue
		}
		for i := range got {
			if !got[i].Start.Equal(jst(t, c.want[i])) {
				t.Errorf("%s: window %d starts %s, want %s", c.name, i, got[i].Start, c.want[i])
			}
		}
	}

	for _, c := range []struct{ after, want string }{
		{"2026-06-01 00:00", "2027-01-19 22:00"},
		{"2027-01-19 21:59", "2027-01-19 22:00"},
		{"2027-01-20 07:59", "2027-01-19 22:00"}, // in progress
		{"2027-01-20 08:00", "2027-02-16 22:00"},
		{"2040-01-01 00:00", "2040-01-17 22:00"},
	} {
		w, ok := r.Next(jst(t, c.after))
		if !ok || !w.Start.Equal(jst(t, c.want)) || w.End.Sub(w.Start) != 10*time.Hour {
			t.Errorf("Next(%s) = %v, %v; want the window from %s", c.after, w, ok, c.want)
		}
	}
}

func TestRecurrenceRules(t *testing.T) {
	for _, c := range []struct {
		name     string
		rule     string
		first    string
		from, to string
		want     []string // window starts in [from, to) (windows of 1 hour)
	}{
		{"COUNT", "FREQ=WEEKLY;BYDAY=SA;COUNT=3", "2027-01-02 01:00", "2027-01-01 00:00", "2028-01-01 00:00",
			[]string{"2027-01-02 01:00", "2027-01-09 01:00", "2027-01-16 01:00"}},
		{"COUNT, asked about the middle", "FREQ=WEEKLY;BYDAY=SA;COUNT=3", "2027-01-02 01:00", "2027-01-08 00:00", "2028-01-01 00:00",
			[]string{"2027-01-09 01:00", "2027-01-16 01:00"}},
		{"UNTIL a date includes that day", "FREQ=MONTHLY;BYDAY=-1FR;UNTIL=20270430", "2027-01-29 22:00", "2027-01-01 00:00", "2028-01-01 00:00",
			[]string{"2027-01-29 22:00", "2027-02-26 22:00", "2027-03-26 22:00", "2027-04-30 22:00"}},
		{"UNTIL the last start, UTC", "FREQ=MONTHLY;BYDAY=-1FR;UNTIL=20270430T130000Z", "2027-01-29 22:00", "2027-04-01 00:00", "2028-01-01 00:00",
			[]string{"2027-04-30 22:00"}},
		{"UNTIL a second before the last start", "FREQ=MONTHLY;BYDAY=-1FR;UNTIL=20270430T215959", "2027-01-29 22:00", "2027-04-01 00:00", "2028-01-01 00:00",
			nil},
		{"RRULE: prefix and lower case", "RRULE:freq=monthly;byday=-1fr;count=2", "2027-01-29 22:00", "2027-01-01 00:00", "2028-01-01 00:00",
			[]string{"2027-01-29 22:00", "2027-02-26 22:00"}},
		{"every other week, two days", "FREQ=WEEKLY;INTERVAL=2;BYDAY=TU,TH", "2027-01-05 03:00", "2027-01-01 00:00", "2027-02-01 00:00",
			[]string{"2027-01-05 03:00", "2027-01-07 03:00", "2027-01-19 03:00", "2027-01-21 03:00"}},
		{"every other week from a Thursday", "FREQ=WEEKLY;INTERVAL=2;BYDAY=TU,TH", "2027-01-07 03:00", "2027-01-01 00:00", "2027-02-01 00:00",
			[]string{"2027-01-07 03:00", "2027-01-19 03:00", "2027-01-21 03:00"}},
		{"WKST moves the fortnight", "FREQ=WEEKLY;INTERVAL=2;BYDAY=TU,SU;WKST=SU", "2027-01-05 03:00", "2027-01-01 00:00", "2027-01-25 00:00",
			[]string{"2027-01-05 03:00", "2027-01-17 03:00", "2027-01-19 03:00"}},
		{"every third day", "FREQ=DAILY;INTERVAL=3", "2027-02-25 01:00", "2027-02-25 00:00", "2027-03-08 00:00",
			[]string{"2027-02-25 01:00", "2027-02-28 01:00", "2027-03-03 01:00", "2027-03-06 01:00"}},
		{"daily on weekdays in March", "FREQ=DAILY;BYMONTH=3;BYDAY=MO,TU,WE,TH,FR", "2027-03-01 02:00", "2027-03-24 00:00", "2027-04-06 00:00",
			[]string{"2027-03-24 02:00", "2027-03-25 02:00", "2027-03-26 02:00", "2027-03-29 02:00", "2027-03-30 02:00", "2027-03-31 02:00"}},
		{"the 31st skips short months", "FREQ=MONTHLY", "2027-01-31 23:00", "2027-01-01 00:00", "2027-06-01 00:00",
			[]string{"2027-01-31 23:00", "2027-03-31 23:00", "2027-05-31 23:00"}},
		{"last day of the month", "FREQ=MONTHLY;BYMONTHDAY=-1", "2027-01-31 23:00", "2027-01-01 00:00", "2027-05-01 00:00",
			[]string{"2027-01-31 23:00", "2027-02-28 23:00", "2027-03-31 23:00", "2027-04-30 23:00"}},
		{"Friday the 13th", "FREQ=MONTHLY;BYMONTHDAY=13;BYDAY=FR", "2027-08-13 22:00", "2027-01-01 00:00", "2029-01-01 00:00",
			[]string{"2027-08-13 22:00", "2028-10-13 22:00"}},
		{"yearly, from the first window", "FREQ=YEARLY", "2028-02-29 22:00", "2028-01-01 00:00", "2037-01-01 00:00",
			[]string{"2028-02-29 22:00", "2032-02-29 22:00", "2036-02-29 22:00"}},
		{"yearly, second Sunday of March and September", "FREQ=YEARLY;BYMONTH=3,9;BYDAY=2SU", "2027-03-14 01:00", "2027-01-01 00:00", "2029-01-01 00:00",
			[]string{"2027-03-14 01:00", "2027-09-12 01:00", "2028-03-12 01:00", "2028-09-10 01:00"}},
		{"yearly, the last Monday of the year", "FREQ=YEARLY;BYDAY=-1MO", "2027-12-27 01:00", "2027-01-01 00:00", "2030-01-01 00:00",
			[]string{"2027-12-27 01:00", "2028-12-25 01:00", "2029-12-31 01:00"}},
		{"every other year", "FREQ=YEARLY;INTERVAL=2;BYMONTH=11;BYMONTHDAY=3", "2026-11-03 09:00", "2026-01-01 00:00", "2031-01-01 00:00",
			[]string{"2026-11-03 09:00", "2028-11-03 09:00", "2030-11-03 09:00"}},
		{"windows that straddle the range start", "FREQ=DAILY", "2027-01-01 23:30", "2027-01-02 00:10", "2027-01-02 23:30",
			[]string{"2027-01-01 23:30"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := mustRecurrence(t, c.rule, jst(t, c.first), time.Hour)
			got := r.Between(jst(t, c.from), jst(t, c.to))
			if len(got) != len(c.want) {
				t.Fatalf("Between = %v, want starts %v", got, c.want)
			}
			for i := range got {
				if !got[i].Start.Equal(jst(t, c.want[i])) || got[i].End.Sub(got[i].Start) != time.Hour {
					t.Errorf("window %d = %v, want the hour from %s", i, got[i], c.want[i])
				}
			}
			// Next agrees with Between.
			if w, ok := r.Next(jst(t, c.from)); len(c.want) > 0 && (!ok || !w.Start.Equal(got[0].Start)) {
				t.Errorf("Next(%s) = %v, %v; want %v", c.from, w, ok, got[0])
			}
		})
	}
}

func TestRecurrenceEnds(t *testing.T) {
	r := mustRecurrence(t, "FREQ=WEEKLY;BYDAY=SA;COUNT=3", jst(t, "2027-01-02 01:00"), 4*time.Hour)
	if w, ok := r.Next(jst(t, "2027-01-16 04:59")); !ok || !w.Start.Equal(jst(t, "2027-01-16 01:00")) {
		t.Errorf("Next during the last window = %v, %v", w, ok)
	}
	if w, ok := r.Next(jst(t, "2027-01-16 05:00")); ok {
		t.Errorf("Next after the last window = %v, want none", w)
	}
	if ws := r.Between(jst(t, "2027-01-17 00:00"), jst(t, "2099-01-01 00:00")); len(ws) != 0 {
		t.Errorf("Between after the end = %v", ws)
	}
	var zero Recurrence
	if ws := zero.Between(jst(t, "2027-01-01 00:00"), jst(t, "2028-01-01 00:00")); ws != nil {
		t.Errorf("zero Recurrence: Between = %v", ws)
	}
	if w, ok := zero.Next(jst(t, "2027-01-01 00:00")); ok {
		t.Errorf("zero Recurrence: Next = %v", w)
	}
}

func TestParseRecurrenceErrors(t *testing.T) {
	pki := jst(t, "2027-01-19 22:00")
	for _, c := range []struct {
		rule   string
		first  time.Time
		length time.Duration
		want   string // in the message
	}{
		{"", pki, time.Hour, "empty"},
		{"RRULE:", pki, time.Hour, "empty"},
		{"BYDAY=3TU", pki, time.Hour, "FREQ is missing"},
		{"FREQ=FORTNIGHTLY", pki, time.Hour, "FREQ=FORTNIGHTLY is not a frequency"},
		{"FREQ=HOURLY", pki, time.Hour, "not supported"},
		{"FREQ=MONTHLY;BYDAY=3XX", pki, time.Hour, `BYDAY value "3XX" is not a weekday`},
		{"FREQ=MONTHLY;BYDAY=0TU", pki, time.Hour, "not a weekday"},
		{"FREQ=MONTHLY;BYDAY=3TU,", pki, time.Hour, "empty value"},
		{"FREQ=MONTHLY;BYDAY=6TU", pki, time.Hour, "at most 5"},
		{"FREQ=WEEKLY;BYDAY=3TU", pki, time.Hour, "ordinals such as 3TU work only with FREQ=MONTHLY or YEARLY"},
		{"FREQ=WEEKLY;BYMONTHDAY=3", pki, time.Hour, "BYMONTHDAY cannot be used with FREQ=WEEKLY"},
		{"FREQ=MONTHLY;BYDAY=3TU;COUNT=0", pki, time.Hour, "COUNT=0 is not valid"},
		{"FREQ=MONTHLY;BYDAY=3TU;COUNT=many", pki, time.Hour, "COUNT=MANY is not valid"},
		{"FREQ=MONTHLY;BYDAY=3TU;INTERVAL=0", pki, time.Hour, "INTERVAL=0 is not valid"},
		{"FREQ=MONTHLY;BYDAY=3TU;COUNT=2;UNTIL=20271231", pki, time.Hour, "COUNT and UNTIL cannot both"},
		{"FREQ=MONTHLY;BYDAY=3TU;UNTIL=2027-12-31", pki, time.Hour, "UNTIL=2027-12-31 is not a date or time"},
		{"FREQ=MONTHLY;BYDAY=3TU;UNTIL=20261231", pki, time.Hour, "UNTIL 2026-12-31T23:59:59+09:00 is before the first window's start"},
		{"FREQ=MONTHLY;BYMONTHDAY=32", pki, time.Hour, "BYMONTHDAY=32 is not valid"},
		{"FREQ=MONTHLY;BYMONTHDAY=0", pki, time.Hour, "BYMONTHDAY=0 is not a day"},
		{"FREQ=MONTHLY;BYMONTH=13;BYDAY=3TU", pki, time.Hour, "BYMONTH=13 is not valid"},
		{"FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=30", pki, time.Hour, "BYMONTHDAY never falls in the months"},
		{"FREQ=MONTHLY;BYDAY=3TU;BYSETPOS=1", pki, time.Hour, "BYSETPOS is not supported"},
		{"FREQ=MONTHLY;BYDAY=3TU;BYHOUR=22", pki, time.Hour, "BYHOUR is not supported"},
		{"FREQ=MONTHLY;BYDAY=3TU;COLOUR=RED", pki, time.Hour, "COLOUR is not an RRULE part"},
		{"FREQ=MONTHLY;FREQ=WEEKLY", pki, time.Hour, "FREQ is given twice"},
		{"FREQ=MONTHLY;;BYDAY=3TU", pki, time.Hour, "is not a NAME=VALUE part"},
		{"FREQ=MONTHLY;BYDAY", pki, time.Hour, "is not a NAME=VALUE part"},
		{"FREQ=MONTHLY;WKST=XX", pki, time.Hour, "WKST=XX is not a weekday"},
		{"FREQ=MONTHLY;BYDAY=3TU", pki, 0, "window length 0s is not positive"},
		{"FREQ=MONTHLY;BYDAY=3TU", jst(t, "2027-01-18 22:00"), time.Hour,
			"the first window's start 2027-01-18T22:00:00+09:00 is not an occurrence of the rule: the first one after it is 2027-01-19T22:00:00+09:00"},
		{"FREQ=MONTHLY;BYMONTHDAY=1;BYDAY=5MO", jst(t, "2027-01-01 22:00"), time.Hour, "no occurrence"},
	} {
		_, err := ParseRecurrence(c.rule, c.first, c.length)
		if !errs.Is(err, errs.Invalid) {
			t.Errorf("ParseRecurrence(%q) = %v, want an invalid error", c.rule, err)
			continue
		}
		if !strings.Contains(err.Error(), c.want) || !strings.HasPrefix(err.Error(), "recurrence rule ") {
			t.Errorf("ParseRecurrence(%q): %q does not say %q", c.rule, err, c.want)
		}
	}
}

// Next and Between agree, and Between returns exactly the windows that
// overlap the range, for random ranges.
func TestRecurrenceProperties(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	rules := []struct {
		rule  string
		first string
	}{
		{"FREQ=MONTHLY;BYDAY=3TU", "2027-01-19 22:00"},
		{"FREQ=WEEKLY;INTERVAL=2;BYDAY=MO,FR", "2027-01-04 18:00"},
		{"FREQ=DAILY;BYDAY=SA,SU", "2027-01-02 00:00"},
		{"FREQ=YEARLY;BYMONTH=5;BYDAY=1MO,-1FR;COUNT=20", "2027-05-03 09:00"},
	}
	base := jst(t, "2026-10-01 00:00")
	for i := range 2000 {
		rc := rules[i%len(rules)]
		length := time.Duration(1+rng.IntN(72)) * time.Hour
		r := mustRecurrence(t, rc.rule, jst(t, rc.first), length)
		from := base.Add(time.Duration(rng.Int64N(int64(5 * 365 * 24 * time.Hour))))
		to := from.Add(time.Duration(rng.Int64N(int64(60 * 24 * time.Hour))))
		ws := r.Between(from, to)
		for j, w := range ws {
			if !w.Start.Before(to) || !w.End.After(from) || w.End.Sub(w.Start) != length {
				t.Fatalf("%s: window %v does not overlap [%s, %s)", rc.rule, w, from, to)
			}
			if j > 0 && !ws[j-1].Start.Before(w.Start) {
				t.Fatalf("%s: windows out of order: %v", rc.rule, ws)
			}
		}
		// Next(from) is the first window overlapping [from, ∞).
		w, ok := r.Next(from)
		switch {
		case len(ws) > 0 && (!ok || w != ws[0]):
			t.Fatalf("%s: Next(%s) = %v, %v; Between starts with %v", rc.rule, from, w, ok, ws[0])
		case len(ws) == 0 && ok && w.Start.Before(to):
			t.Fatalf("%s: Next(%s) = %v, but Between(%s, %s) is empty", rc.rule, from, w, from, to)
		}
		// Splitting the range loses no window and adds none: the windows
		// across the split are in both halves.
		mid := from.Add(time.Duration(rng.Int64N(int64(to.Sub(from)) + 1)))
		union := map[Window]bool{}
		for _, w := range append(r.Between(from, mid), r.Between(mid, to)...) {
			union[w] = true
		}
		for _, w := range ws {
			delete(union, w)
		}
		if len(union) != 0 || len(ws) != len(slices.CompactFunc(slices.Clone(ws), func(a, b Window) bool { return a == b })) {
			t.Fatalf("%s: Between(%s, %s) = %v, but split at %s gives also %v", rc.rule, from, to, ws, mid, union)
		}
		for _, w := range ws {
			if !slices.Contains(r.Between(from, mid), w) && !slices.Contains(r.Between(mid, to), w) {
				t.Fatalf("%s: split at %s loses %v", rc.rule, mid, w)
			}
		}
	}
}

func BenchmarkRecurrenceFarAhead(b *testing.B) {
	r := mustRecurrence(b, "FREQ=DAILY;BYDAY=SA,SU", time.Date(2027, 1, 2, 0, 0, 0, 0, time.UTC), time.Hour)
	from := time.Date(2090, 1, 1, 0, 0, 0, 0, time.UTC)
	for b.Loop() {
		r.Between(from, from.Add(30*24*time.Hour))
	}
}
