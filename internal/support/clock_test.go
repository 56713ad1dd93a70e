package support

import (
	"math/rand/v2"
	"testing"
	"time"

	"github.com/enmei-project/enmei/internal/bizcal"
	"github.com/enmei-project/enmei/internal/entitle"
)

// jst parses "2006-01-02 15:04" (or with seconds) in Asia/Tokyo.
func jst(t testing.TB, s string) time.Time {
	t.Helper()
	layout := "2006-01-02 15:04"
	if len(s) > len(layout) {
		layout = "2006-01-02 15:04:05"
	}
	v, err := time.ParseInLocation(layout, s, entitle.Tokyo)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func date(t testing.TB, s string) bizcal.Date {
	t.Helper()
	d, err := bizcal.ParseDate(s)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// The calendar facts the cases below rely on, checked rather than assumed.
func TestCalendarFacts(t *testing.T) {
	for _, c := range []struct {
		day  string
		open bool
	}{
		{"2026-11-23", false}, // 勤労感謝の日, a Monday
		{"2026-04-29", false}, // 昭和の日
		{"2026-05-06", false}, // 振替休日 for 憲法記念日 on a Sunday
		{"2026-04-30", true},
		{"2026-05-01", true},
		{"2026-05-07", true},
		{"2026-12-28", true},  // the last day before the closure
		{"2026-12-29", false}, // the year-end closure
		{"2027-01-04", true},  // a Monday, the first day after it
	} {
		if got := (bizcal.Calendar{}).IsBusinessDay(date(t, c.day)); got != c.open {
			t.Errorf("IsBusinessDay(%s) = %v, want %v", c.day, got, c.open)
		}
	}
	if _, ok := bizcal.Holiday(date(t, "2026-11-23")); !ok {
		t.Error("2026-11-23 is not a national holiday")
	}
}

var vendorCal = bizcal.Calendar{VendorHolidays: []bizcal.Date{bizcal.D(2026, time.June, 10)}}

func TestClockOpen(t *testing.T) {
	for _, c := range []struct {
		at   string
		cal  bizcal.Calendar
		open bool
		next string
	}{
		{"2026-06-09 08:59:59", bizcal.Calendar{}, false, "2026-06-09 09:00"},
		{"2026-06-09 09:00", bizcal.Calendar{}, true, "2026-06-09 09:00"},
		{"2026-06-09 11:59:59", bizcal.Calendar{}, true, "2026-06-09 11:59:59"},
		{"2026-06-09 12:00", bizcal.Calendar{}, false, "2026-06-09 13:00"}, // lunch
		{"2026-06-09 12:59", bizcal.Calendar{}, false, "2026-06-09 13:00"},
		{"2026-06-09 13:00", bizcal.Calendar{}, true, "2026-06-09 13:00"},
		{"2026-06-09 17:59:59", bizcal.Calendar{}, true, "2026-06-09 17:59:59"},
		{"2026-06-09 18:00", bizcal.Calendar{}, false, "2026-06-10 09:00"}, // evening
		{"2026-06-09 23:59", bizcal.Calendar{}, false, "2026-06-10 09:00"},
		{"2026-06-12 18:30", bizcal.Calendar{}, false, "2026-06-15 09:00"}, // Friday evening
		{"2026-06-13 10:00", bizcal.Calendar{}, false, "2026-06-15 09:00"}, // Saturday
		{"2026-11-23 10:00", bizcal.Calendar{}, false, "2026-11-24 09:00"}, // 勤労感謝の日
		{"2026-05-02 10:00", bizcal.Calendar{}, false, "2026-05-07 09:00"}, // Golden Week
		{"2026-12-29 10:00", bizcal.Calendar{}, false, "2027-01-04 09:00"}, // year-end closure
		{"2026-12-29 10:00", bizcal.Calendar{NoYearEnd: true}, true, "2026-12-29 10:00"},
		{"2026-06-10 10:00", vendorCal, false, "2026-06-11 09:00"}, // vendor holiday
		{"2026-06-10 10:00", bizcal.Calendar{}, true, "2026-06-10 10:00"},
	} {
		c0 := Clock{Cal: c.cal}
		at := jst(t, c.at)
		if got := c0.Open(at); got != c.open {
			t.Errorf("Open(%s) = %v, want %v", c.at, got, c.open)
		}
		if got, want := c0.NextOpen(at), jst(t, c.next); !got.Equal(want) {
			t.Errorf("NextOpen(%s) = %s, want %s", c.at, got, want)
		}
		// The zone of the argument does not matter, only the instant.
		if got := c0.Open(at.UTC()); got != c.open {
			t.Errorf("Open(%s in UTC) = %v, want %v", c.at, got, c.open)
		}
	}
}

func TestClockAdd(t *testing.T) {
	for _, c := range []struct {
		name string
		cal  bizcal.Calendar
		from string
		d    time.Duration
		want string
	}{
		{"zero while open", bizcal.Calendar{}, "2026-06-09 10:15", 0, "2026-06-09 10:15"},
		{"zero at night", bizcal.Calendar{}, "2026-06-09 20:00", 0, "2026-06-10 09:00"},
		{"across lunch", bizcal.Calendar{}, "2026-06-09 11:30", time.Hour, "2026-06-09 13:30"},
		{"ends at noon, not at 13:00", bizcal.Calendar{}, "2026-06-09 09:00", 3 * time.Hour, "2026-06-09 12:00"},
		{"from lunch", bizcal.Calendar{}, "2026-06-09 12:15", 30 * time.Minute, "2026-06-09 13:30"},
		{"a whole day", bizcal.Calendar{}, "2026-06-08 09:00", 8 * time.Hour, "2026-06-08 18:00"},
		{"two whole days", bizcal.Calendar{}, "2026-06-08 09:00", 16 * time.Hour, "2026-06-09 18:00"},
		{"into the evening", bizcal.Calendar{}, "2026-06-09 17:45", 30 * time.Minute, "2026-06-10 09:15"},
		{"from the evening", bizcal.Calendar{}, "2026-06-09 18:00", time.Hour, "2026-06-10 10:00"},
		{"over a weekend", bizcal.Calendar{}, "2026-06-12 17:00", 2 * time.Hour, "2026-06-15 10:00"},
		{"from a Saturday", bizcal.Calendar{}, "2026-06-13 10:00", 4 * time.Hour, "2026-06-15 14:00"},
		{"over a national holiday", bizcal.Calendar{}, "2026-11-20 17:00", 2 * time.Hour, "2026-11-24 10:00"},
		{"over 昭和の日", bizcal.Calendar{}, "2026-04-28 17:00", 2 * time.Hour, "2026-04-30 10:00"},
		{"over Golden Week", bizcal.Calendar{}, "2026-05-01 16:00", 4 * time.Hour, "2026-05-07 11:00"},
		// 30 minutes on 28 December, then 3h30 from 9:00 on 4 January:
		// three hours to noon and the last half hour after lunch.
		{"over the year-end closure", bizcal.Calendar{}, "2026-12-28 17:30", 4 * time.Hour, "2027-01-04 13:30"},
		{"no year-end closure", bizcal.Calendar{NoYearEnd: true}, "2026-12-28 17:30", 4 * time.Hour, "2026-12-29 13:30"},
		{"over a vendor holiday", vendorCal, "2026-06-09 17:00", 2 * time.Hour, "2026-06-11 10:00"},
		{"vendor holiday on another calendar", bizcal.Calendar{}, "2026-06-09 17:00", 2 * time.Hour, "2026-06-10 10:00"},
		// 40 business days from Monday 1 June 2026: 22 in June, 17 in July
		// to the 24th (海の日 on the 20th is closed), then Monday 27 July.
		{"forty days", bizcal.Calendar{}, "2026-06-01 09:00", 40 * 8 * time.Hour, "2026-07-27 18:00"},
	} {
		t.Run(c.name, func(t *testing.T) {
			k := Clock{Cal: c.cal}
			from, want := jst(t, c.from), jst(t, c.want)
			got := k.Add(from, c.d)
			if !got.Equal(want) {
				t.Fatalf("Add(%s, %s) = %s, want %s", c.from, c.d, got, want)
			}
			if got.Location() != entitle.Tokyo && c.d > 0 {
				t.Errorf("Add returned %s, not in Asia/Tokyo", got)
			}
			if b := k.Between(from, got); b != c.d {
				t.Errorf("Between(%s, %s) = %s, want %s", c.from, got, b, c.d)
			}
			if l := k.Left(from, got); l != c.d {
				t.Errorf("Left(%s, %s) = %s, want %s", c.from, got, l, c.d)
			}
			if l := k.Left(got, from); l != -c.d {
				t.Errorf("Left(%s, %s) = %s, want %s", got, c.from, l, -c.d)
			}
		})
	}
}

func TestClockAddNegative(t *testing.T) {
	k := Clock{}
	from := jst(t, "2026-06-13 10:00")
	if got, want := k.Add(from, -time.Hour), jst(t, "2026-06-15 09:00"); !got.Equal(want) {
		t.Errorf("Add(-1h) = %s, want %s", got, want)
	}
}

func TestClockBetween(t *testing.T) {
	for _, c := range []struct {
		cal      bizcal.Calendar
		from, to string
		want     time.Duration
	}{
		{bizcal.Calendar{}, "2026-06-09 11:00", "2026-06-09 14:00", 2 * time.Hour},
		{bizcal.Calendar{}, "2026-06-09 12:10", "2026-06-09 12:50", 0},
		{bizcal.Calendar{}, "2026-06-09 06:00", "2026-06-09 23:00", 8 * time.Hour},
		{bizcal.Calendar{}, "2026-06-09 14:00", "2026-06-09 11:00", 0}, // to before from
		{bizcal.Calendar{}, "2026-06-09 14:00", "2026-06-09 14:00", 0},
		{bizcal.Calendar{}, "2026-06-12 17:00", "2026-06-15 10:00", 2 * time.Hour},
		{bizcal.Calendar{}, "2026-06-13 00:00", "2026-06-15 00:00", 0},
		{bizcal.Calendar{}, "2026-11-20 17:00", "2026-11-24 10:00", 2 * time.Hour},
		{bizcal.Calendar{}, "2026-04-28 09:00", "2026-05-07 09:00", 3 * 8 * time.Hour}, // 4/28, 4/30, 5/1
		{bizcal.Calendar{}, "2026-12-28 17:30", "2027-01-04 13:30", 4 * time.Hour},
		{bizcal.Calendar{}, "2026-12-29 00:00", "2027-01-04 00:00", 0},
		{vendorCal, "2026-06-09 17:00", "2026-06-11 10:00", 2 * time.Hour},
		{bizcal.Calendar{}, "2026-06-09 17:00", "2026-06-11 10:00", 10 * time.Hour},
		{bizcal.Calendar{}, "2026-01-01 00:00", "2027-01-01 00:00", 240 * 8 * time.Hour}, // bizcal: 240 business days in 2026
	} {
		k := Clock{Cal: c.cal}
		from, to := jst(t, c.from), jst(t, c.to)
		if got := k.Between(from, to); got != c.want {
			t.Errorf("Between(%s, %s) = %s, want %s", c.from, c.to, got, c.want)
		}
		if to.After(from) {
			if got := k.Left(to, from); got != -c.want {
				t.Errorf("Left(%s, %s) = %s, want %s", c.to, c.from, got, -c.want)
			}
		}
	}
}

// naiveAdd walks minute by minute from a whole minute.
func naiveAdd(k Clock, from time.Time, d time.Duration) time.Time {
	t := k.NextOpen(from)
	for d > 0 {
		if k.Open(t) {
			d -= time.Minute
		}
		t = t.Add(time.Minute)
	}
	return t
}

func TestClockProperties(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	base := jst(t, "2025-12-01 00:00")
	cals := []bizcal.Calendar{{}, {NoYearEnd: true}, vendorCal,
		{VendorHolidays: []bizcal.Date{bizcal.D(2026, 12, 28), bizcal.D(2027, 1, 4), bizcal.D(2026, 5, 7)}}}
	for i := range 20000 {
		k := Clock{Cal: cals[i%len(cals)]}
		// Instants on whole minutes, on round hours or anywhere.
		from := base.Add(time.Duration(rng.IntN(3*365*24*60)) * time.Minute)
		switch rng.IntN(3) {
		case 0:
			from = from.Truncate(time.Hour)
		case 1:
			from = from.Add(time.Duration(rng.Int64N(int64(time.Minute))))
		}
		var d time.Duration
		switch rng.IntN(3) {
		case 0:
			d = time.Duration(rng.IntN(3*8*60)) * time.Minute // up to three days
		case 1:
			d = time.Duration(rng.IntN(120)) * 8 * time.Hour // whole days, up to months
		default:
			d = time.Duration(rng.Int64N(int64(90 * 8 * time.Hour)))
		}
		got := k.Add(from, d)
		if b := k.Between(from, got); b != d {
			t.Fatalf("cal %d: Between(%s, Add(%s, %s) = %s) = %s", i%len(cals), from, from, d, got, b)
		}
		if got.Before(from) {
			t.Fatalf("Add(%s, %s) = %s, before from", from, d, got)
		}
		// The due time is open, or the end of a session that completed d.
		if _, off := split(got); d > 0 && !k.Open(got) && off != amClose && off != pmClose {
			t.Fatalf("Add(%s, %s) = %s, neither open nor at a session's end", from, d, got)
		}
		// Monotone in d and in from.
		e := d + time.Duration(rng.Int64N(int64(4*time.Hour)))
		if later := k.Add(from, e); later.Before(got) {
			t.Fatalf("Add(%s, %s) = %s before Add(..., %s) = %s", from, e, later, d, got)
		}
		from2 := from.Add(time.Duration(rng.Int64N(int64(72 * time.Hour))))
		if later := k.Add(from2, d); later.Before(got) {
			t.Fatalf("Add(%s, %s) = %s before Add(%s, %s) = %s", from2, d, later, from, d, got)
		}
		// Between agrees with Add from any point in between.
		mid := from.Add(time.Duration(rng.Int64N(int64(got.Sub(from)) + 1)))
		if a, b := k.Between(from, mid), k.Between(mid, got); a+b != d {
			t.Fatalf("Between(%s, %s) + Between(%s, %s) = %s + %s, want %s", from, mid, mid, got, a, b, d)
		}
		// Against a minute-by-minute walk, for short targets.
		if i%10 == 0 && from.Second() == 0 && from.Nanosecond() == 0 && d%time.Minute == 0 && d <= 24*time.Hour {
			if want := naiveAdd(k, from, d); !got.Equal(want) {
				t.Fatalf("Add(%s, %s) = %s, minute by minute %s", from, d, got, want)
			}
		}
	}
}

func BenchmarkClockAddMonths(b *testing.B) {
	k := Clock{Cal: vendorCal}
	from := time.Date(2026, 6, 9, 11, 30, 0, 0, entitle.Tokyo)
	for b.Loop() {
		k.Add(from, 90*8*time.Hour)
	}
}
