package bizcal

import (
	"strings"
	"testing"
	"time"
)

func TestParseDate(t *testing.T) {
	good := []struct {
		s    string
		want Date
	}{
		{"2026-04-28", Date{2026, time.April, 28}},
		{"2028-02-29", Date{2028, time.February, 29}},
		{"2000-02-29", Date{2000, time.February, 29}},
		{"0001-01-01", Date{1, time.January, 1}},
	}
	for _, tc := range good {
		d, err := ParseDate(tc.s)
		if err != nil || d != tc.want {
			t.Errorf("ParseDate(%q) = %v, %v; want %v", tc.s, d, err, tc.want)
		}
		if d.String() != tc.s {
			t.Errorf("%v.String() = %q, want %q", d, d.String(), tc.s)
		}
	}
	bad := []string{
		"2026-2-3", "2026-02-30", "", "2026/02/03",
		"2026-13-01", "2026-00-10", "2026-01-00", "2027-02-29", "2100-02-29",
		"+026-01-01", "2026-01-1x", "2026-01-011", " 2026-01-01", "２０２６-01-01",
	}
	for _, s := range bad {
		d, err := ParseDate(s)
		if err == nil {
			t.Errorf("ParseDate(%q) = %v, want an error", s, d)
			continue
		}
		msg := err.Error()
		if !strings.Contains(msg, `"`+s+`"`) || !strings.Contains(msg, "YYYY-MM-DD") {
			t.Errorf("ParseDate(%q) error %q does not name the value and the form", s, msg)
		}
	}
}

// TestDateArithmetic checks D, AddDays, Weekday and Compare against the
// time package, which shares no code with them, from 1600 to 2400.
func TestDateArithmetic(t *testing.T) {
	tm := time.Date(1600, 1, 1, 0, 0, 0, 0, time.UTC)
	d := D(1600, 1, 1)
	for i := 0; tm.Year() < 2400; i++ {
		want := Date{tm.Year(), tm.Month(), tm.Day()}
		if d != want || d.Weekday() != tm.Weekday() {
			t.Fatalf("day %d: %v (%v), want %v (%v)", i, d, d.Weekday(), want, tm.Weekday())
		}
		next := d.AddDays(1)
		if !d.Before(next) || !next.After(d) || d.Compare(next) != -1 || next.Compare(d) != 1 || d.Compare(d) != 0 {
			t.Fatalf("%v and %v compare wrongly", d, next)
		}
		if p := ydayOf(d); p.date() != d || p.days() != d.days() || p.doy != tm.YearDay()-1 {
			t.Fatalf("%v: year-day %+v round trip", d, p)
		}
		tm, d = tm.AddDate(0, 0, 1), next
	}
	// D normalises like time.Date.
	for _, c := range []struct {
		y    int
		m    time.Month
		d    int
		want Date
	}{
		{2026, 2, 30, Date{2026, 3, 2}},
		{2026, 12, 32, Date{2027, 1, 1}},
		{2026, 3, 0, Date{2026, 2, 28}},
		{2026, 13, 1, Date{2027, 1, 1}},
		{2026, 0, 1, Date{2025, 12, 1}},
		{2026, -13, 15, Date{2024, 11, 15}},
		{2028, 1, 60, Date{2028, 2, 29}},
	} {
		got := D(c.y, c.m, c.d)
		tm := time.Date(c.y, c.m, c.d, 0, 0, 0, 0, time.UTC)
		if got != c.want || got != (Date{tm.Year(), tm.Month(), tm.Day()}) {
			t.Errorf("D(%d, %d, %d) = %v, want %v", c.y, c.m, c.d, got, c.want)
		}
	}
	// Unnormalised literals compare and print as the day they mean.
	if a, b := (Date{2026, 2, 30}), D(2026, 3, 2); a.Compare(b) != 0 || a.String() != "2026-03-02" {
		t.Errorf("Date{2026, 2, 30} = %v, compare %d", a, a.Compare(b))
	}
}

func TestDateOf(t *testing.T) {
	cases := []struct {
		t    time.Time
		want Date
	}{
		{time.Date(2026, 4, 30, 14, 59, 59, 0, time.UTC), Date{2026, 4, 30}},
		{time.Date(2026, 4, 30, 15, 0, 0, 0, time.UTC), Date{2026, 5, 1}}, // 00:00 JST
		{time.Date(2026, 12, 31, 20, 0, 0, 0, time.FixedZone("PST", -8*3600)), Date{2027, 1, 1}},
		{time.Date(2026, 5, 1, 0, 30, 0, 0, time.FixedZone("JST", 9*3600)), Date{2026, 5, 1}},
	}
	for _, tc := range cases {
		if got := DateOf(tc.t); got != tc.want {
			t.Errorf("DateOf(%v) = %v, want %v", tc.t, got, tc.want)
		}
	}
	d := Date{2026, 5, 1}
	if got := d.Time(); !got.Equal(time.Date(2026, 4, 30, 15, 0, 0, 0, time.UTC)) || DateOf(got) != d {
		t.Errorf("%v.Time() = %v", d, got)
	}
}
