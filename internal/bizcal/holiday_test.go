package bizcal

import (
	"testing"
	"time"
)

func mustDate(t testing.TB, s string) Date {
	t.Helper()
	d, err := ParseDate(s)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// The expected values are literal: each weekday was checked with date(1)
// and each holiday against the rules by hand (and against the published
// lists where they exist), not taken from this package.
var holidayCases = []struct {
	date     string
	name     string // "" when d is no national holiday
	business bool   // under the zero Calendar
}{
	// 2026
	{"2026-01-01", "元日", false},           // Thu
	{"2026-01-02", "", false},             // Fri, year-end closure only
	{"2026-01-05", "", true},              // Mon, first business day
	{"2026-01-12", "成人の日", false},         // 2nd Monday (Mondays 5, 12)
	{"2026-03-20", "春分の日", false},         // Fri; formula: 31 - 11 = 20
	{"2026-04-29", "昭和の日", false},         // Wed
	{"2026-04-30", "", true},              // Thu between 昭和の日 and the weekend
	{"2026-05-03", "憲法記念日", false},        // Sun
	{"2026-05-04", "みどりの日", false},        // Mon
	{"2026-05-05", "こどもの日", false},        // Tue
	{"2026-05-06", NameSubstitute, false}, // Wed: first non-祝日 after Sunday 5/3
	{"2026-05-07", "", true},              // Thu
	{"2026-07-20", "海の日", false},          // 3rd Monday (6, 13, 20)
	{"2026-09-21", "敬老の日", false},         // 3rd Monday (7, 14, 21)
	{"2026-09-22", NameCitizens, false},   // Tue between 敬老の日 and 秋分の日
	{"2026-09-23", "秋分の日", false},         // Wed
	{"2026-09-24", "", true},              // Thu
	{"2026-10-12", "スポーツの日", false},       // 2nd Monday (5, 12)
	{"2026-12-23", "", true},              // Wed, the old 天皇誕生日 (until 2018)
	{"2026-12-28", "", true},              // Mon, last day before the closure
	{"2026-12-29", "", false},             // Tue, closure
	{"2026-12-31", "", false},             // Thu, closure
	// 2027
	{"2027-01-04", "", true},      // Mon, 1/2–1/3 were Sat/Sun
	{"2027-01-11", "成人の日", false}, // 2nd Monday (4, 11)
	{"2027-03-21", "春分の日", false}, // Sun; formula: 32 - 11 = 21
	{"2027-03-22", NameSubstitute, false},
	{"2027-04-30", "", true},       // Fri
	{"2027-05-03", "憲法記念日", false}, // Mon: no substitute needed this year
	{"2027-05-06", "", true},       // Thu
	{"2027-07-20", "", true},       // Tue, the pre-2003 海の日 date
	{"2027-09-20", "敬老の日", false},  // 3rd Monday (6, 13, 20)
	{"2027-09-22", "", true},       // Wed: two days from 秋分の日, no sandwich
	{"2027-09-23", "秋分の日", false},  // Thu
	{"2027-12-28", "", true},       // Tue
	// 2028
	{"2028-01-03", "", false},      // Mon, still the closure
	{"2028-01-10", "成人の日", false},  // 2nd Monday (3, 10)
	{"2028-02-23", "天皇誕生日", false}, // Wed
	{"2028-03-20", "春分の日", false},  // Mon
	{"2028-04-29", "昭和の日", false},  // Sat: Saturdays get no substitute
	{"2028-05-01", "", true},       // Mon
	{"2028-05-06", "", false},      // Sat
	{"2028-09-22", "秋分の日", false},  // Fri; formula: 34 - 12 = 22
	{"2028-10-10", "", true},       // Tue, the pre-2000 体育の日 date
	// 2029
	{"2029-02-11", "建国記念の日", false}, // Sun
	{"2029-02-12", NameSubstitute, false},
	{"2029-03-20", "春分の日", false}, // Tue
	{"2029-04-29", "昭和の日", false}, // Sun
	{"2029-04-30", NameSubstitute, false},
	{"2029-05-05", "こどもの日", false}, // Sat
	{"2029-05-07", "", true},       // Mon: no substitute for a Saturday
	{"2029-09-23", "秋分の日", false},  // Sun
	{"2029-09-24", NameSubstitute, false},
	// 2030
	{"2030-01-15", "", true},       // Tue, the pre-2000 成人の日 date
	{"2030-03-20", "春分の日", false},  // Wed
	{"2030-05-05", "こどもの日", false}, // Sun
	{"2030-05-06", NameSubstitute, false},
	{"2030-08-11", "山の日", false}, // Sun
	{"2030-08-12", NameSubstitute, false},
	{"2030-09-16", "敬老の日", false}, // 3rd Monday (2, 9, 16)
	{"2030-09-23", "秋分の日", false}, // Mon
	{"2030-11-03", "文化の日", false}, // Sun
	{"2030-11-04", NameSubstitute, false},
	// 2031
	{"2031-02-23", "天皇誕生日", false}, // Sun
	{"2031-02-24", NameSubstitute, false},
	{"2031-03-21", "春分の日", false},  // Fri; formula: 33 - 12 = 21
	{"2031-05-03", "憲法記念日", false}, // Sat
	{"2031-05-04", "みどりの日", false}, // Sun: 5/5 is a 祝日, so the substitute is 5/6
	{"2031-05-05", "こどもの日", false}, // Mon
	{"2031-05-06", NameSubstitute, false},
	{"2031-09-15", "敬老の日", false},   // 3rd Monday (1, 8, 15), the old fixed date too
	{"2031-11-23", "勤労感謝の日", false}, // Sun
	{"2031-11-24", NameSubstitute, false},
	// 2032
	{"2032-03-20", "春分の日", false}, // Sat
	{"2032-03-22", "", true},      // Mon: no substitute for a Saturday
	{"2032-05-06", "", true},      // Thu
	{"2032-09-20", "敬老の日", false}, // 3rd Monday (6, 13, 20)
	{"2032-09-21", NameCitizens, false},
	{"2032-09-22", "秋分の日", false}, // Wed
	{"2032-12-24", "", true},      // Fri
	// 2033
	{"2033-01-03", "", false},     // Mon, closure
	{"2033-03-20", "春分の日", false}, // Sun
	{"2033-03-21", NameSubstitute, false},
	{"2033-05-02", "", true},      // Mon between the weekend and 憲法記念日 (Tue)
	{"2033-05-06", "", true},      // Fri after こどもの日 (Thu)
	{"2033-09-23", "秋分の日", false}, // Fri
	// 2034
	{"2034-01-01", "元日", false}, // Sun
	{"2034-01-02", NameSubstitute, false},
	{"2034-01-04", "", true},      // Wed
	{"2034-03-20", "春分の日", false}, // Mon
	{"2034-05-06", "", false},     // Sat, not a holiday
	{"2034-09-23", "秋分の日", false}, // Sat
	{"2034-09-25", "", true},      // Mon
	// 2035
	{"2035-02-12", NameSubstitute, false}, // 2/11 is a Sunday
	{"2035-03-21", "春分の日", false},         // Wed
	{"2035-04-30", NameSubstitute, false}, // 4/29 is a Sunday
	{"2035-09-24", NameSubstitute, false}, // 9/23 is a Sunday
	{"2035-12-28", "", true},              // Fri
	{"2035-12-31", "", false},             // Mon, closure
}

func TestHolidayTable(t *testing.T) {
	perYear := map[int]int{}
	var cal Calendar
	for _, tc := range holidayCases {
		d := mustDate(t, tc.date)
		perYear[d.Year]++
		h, ok := Holiday(d)
		switch {
		case tc.name == "" && ok:
			t.Errorf("Holiday(%s) = %q, want none", d, h.Name)
		case tc.name != "" && !ok:
			t.Errorf("Holiday(%s) = none, want %q", d, tc.name)
		case ok && (h.Name != tc.name || h.Date != d || h.NameEN == ""):
			t.Errorf("Holiday(%s) = %+v, want name %q", d, h, tc.name)
		}
		if got := cal.IsBusinessDay(d); got != tc.business {
			t.Errorf("IsBusinessDay(%s) = %v, want %v", d, got, tc.business)
		}
	}
	for y := 2026; y <= 2035; y++ {
		if perYear[y] < 3 {
			t.Errorf("only %d cases for %d", perYear[y], y)
		}
	}
}

// TestEquinoxes checks the formula against the dates the National
// Astronomical Observatory published for 2026–2030, and pins 2031–2035.
func TestEquinoxes(t *testing.T) {
	cases := []struct {
		year           int
		spring, autumn int
	}{
		{2026, 20, 23}, {2027, 21, 23}, {2028, 20, 22}, {2029, 20, 23}, {2030, 20, 23},
		{2031, 21, 23}, {2032, 20, 22}, {2033, 20, 23}, {2034, 20, 23}, {2035, 21, 23},
	}
	for _, tc := range cases {
		for _, e := range []struct {
			m    time.Month
			day  int
			name string
		}{{time.March, tc.spring, "春分の日"}, {time.September, tc.autumn, "秋分の日"}} {
			d := D(tc.year, e.m, e.day)
			if h, ok := Holiday(d); !ok || h.Name != e.name {
				t.Errorf("Holiday(%s) = %q, %v; want %s", d, h.Name, ok, e.name)
			}
		}
	}
}

// TestSpecialYears covers the one-off table and the rule changes before
// 2020, against the Cabinet Office lists.
func TestSpecialYears(t *testing.T) {
	cases := []struct {
		date, name string
	}{
		{"2019-04-30", NameCitizens}, // between 昭和の日 and 即位の日
		{"2019-05-01", "即位の日"},
		{"2019-05-02", NameCitizens}, // between 即位の日 and 憲法記念日
		{"2019-05-06", NameSubstitute},
		{"2019-10-14", "体育の日"},
		{"2019-10-22", "即位礼正殿の儀"},
		{"2019-12-23", ""}, // no 天皇誕生日 in 2019
		{"2018-12-23", "天皇誕生日"},
		{"2018-12-24", NameSubstitute},
		{"2020-02-23", "天皇誕生日"},
		{"2020-02-24", NameSubstitute},
		{"2020-07-20", ""}, // 3rd Monday, moved
		{"2020-07-23", "海の日"},
		{"2020-07-24", "スポーツの日"},
		{"2020-08-10", "山の日"},
		{"2020-08-11", ""},
		{"2020-10-12", ""},
		{"2021-07-19", ""},
		{"2021-07-22", "海の日"},
		{"2021-07-23", "スポーツの日"},
		{"2021-08-08", "山の日"},
		{"2021-08-09", NameSubstitute},
		{"2021-08-11", ""},
		{"2021-10-11", ""},
		{"2002-05-04", NameCitizens}, // Sat: pre-2007 5/4
		{"2003-05-04", ""},           // Sun: pre-2007 5/4 did not apply on Sundays
		{"2006-04-29", "みどりの日"},
		{"2007-04-29", "昭和の日"},
		{"2007-04-30", NameSubstitute},
		{"2002-07-20", "海の日"},
		{"2002-09-15", "敬老の日"},
		{"2002-09-16", NameSubstitute},
		{"2009-09-22", NameCitizens}, // the first Silver Week
		{"2000-01-10", "成人の日"},
		{"2000-10-09", "体育の日"},
		{"2099-03-20", "春分の日"}, // Fri; formula: 49 - 29 = 20
	}
	for _, tc := range cases {
		d := mustDate(t, tc.date)
		h, ok := Holiday(d)
		if ok != (tc.name != "") || h.Name != tc.name {
			t.Errorf("Holiday(%s) = %q, %v; want %q", d, h.Name, ok, tc.name)
		}
	}
	// Outside the supported years nothing is known.
	for _, d := range []Date{D(1999, 1, 1), D(2100, 1, 1)} {
		if h, ok := Holiday(d); ok {
			t.Errorf("Holiday(%s) = %q, want none outside %d–%d", d, h.Name, MinYear, MaxYear)
		}
	}
	if hs := Holidays(2100); hs != nil {
		t.Errorf("Holidays(2100) = %v, want nil", hs)
	}
}

// TestOneOffRowsMatch guards the one-off table: a row that moves a holiday
// must name a regular holiday of its year, or the regular day would silently
// stay a holiday.
func TestOneOffRowsMatch(t *testing.T) {
	for _, o := range oneOffs {
		if !o.moves {
			continue
		}
		found := false
		for _, r := range rules {
			if r.name == o.name && o.date.Year >= r.from && (r.until == 0 || o.date.Year <= r.until) {
				found = true
			}
		}
		if !found {
			t.Errorf("one-off %s %s moves no regular holiday", o.date, o.name)
		}
	}
}

// TestHolidaysConsistent checks, for every supported year, that Holidays is
// sorted and agrees with Holiday day by day, and that every holiday obeys
// the rules that made it.
func TestHolidaysConsistent(t *testing.T) {
	// Happy Monday holidays and the year each became one.
	mondays := map[string]int{"成人の日": 2000, "海の日": 2003, "敬老の日": 2003, "体育の日": 2000, "スポーツの日": 2020}
	moved := map[Date]bool{}
	for _, o := range oneOffs {
		moved[o.date] = true
	}
	for y := MinYear; y <= MaxYear; y++ {
		hs := Holidays(y)
		if len(hs) < 15 || len(hs) > 23 {
			t.Errorf("%d: %d holidays", y, len(hs))
		}
		byDate := map[Date]NationalHoliday{}
		for i, h := range hs {
			if h.Date.Year != y || h.Name == "" || h.NameEN == "" {
				t.Errorf("%d: bad entry %+v", y, h)
			}
			if i > 0 && !hs[i-1].Date.Before(h.Date) {
				t.Errorf("%d: %s not after %s", y, h.Date, hs[i-1].Date)
			}
			byDate[h.Date] = h
		}
		for d := D(y, 1, 1); d.Year == y; d = d.AddDays(1) {
			h, ok := Holiday(d)
			want, wantOK := byDate[d]
			if ok != wantOK || h != want {
				t.Fatalf("Holiday(%s) = %+v, %v; Holidays(%d) says %+v, %v", d, h, ok, y, want, wantOK)
			}
		}
		shuku := func(d Date) bool {
			h, ok := byDate[d]
			return ok && h.Name != NameSubstitute && h.Name != NameCitizens
		}
		for _, h := range hs {
			d := h.Date
			switch h.Name {
			case NameSubstitute:
				// A run of 祝日 back from the day before must start on a Sunday.
				if d.Weekday() == time.Sunday {
					t.Errorf("%s: 振替休日 on a Sunday", d)
				}
				p := d.AddDays(-1)
				for shuku(p) && p.Weekday() != time.Sunday {
					p = p.AddDays(-1)
				}
				if !shuku(p) || p.Weekday() != time.Sunday {
					t.Errorf("%s: 振替休日 without a 祝日 on the Sunday before", d)
				}
			case NameCitizens:
				if !shuku(d.AddDays(-1)) || !shuku(d.AddDays(1)) {
					t.Errorf("%s: 国民の休日 not between two 祝日", d)
				}
			case "春分の日":
				if d.Month != time.March || d.Day < 19 || d.Day > 21 {
					t.Errorf("%s: 春分の日 out of range", d)
				}
			case "秋分の日":
				if d.Month != time.September || d.Day < 22 || d.Day > 24 {
					t.Errorf("%s: 秋分の日 out of range", d)
				}
			}
			if since, ok := mondays[h.Name]; ok && y >= since && !moved[d] && d.Weekday() != time.Monday {
				t.Errorf("%s: %s is not a Monday", d, h.Name)
			}
			if d.Month == time.June || (y >= 2019 && d.Month == time.December) {
				t.Errorf("%s: %s in a month without holidays", d, h.Name)
			}
		}
		// Every Sunday 祝日 has its substitute (from 2007: the next non-祝日).
		for _, h := range hs {
			if y < 2007 || h.Date.Weekday() != time.Sunday || !shuku(h.Date) {
				continue
			}
			x := h.Date.AddDays(1)
			for shuku(x) {
				x = x.AddDays(1)
			}
			if byDate[x].Name != NameSubstitute {
				t.Errorf("%s: Sunday %s has no 振替休日 on %s", h.Date, h.Name, x)
			}
		}
	}
}
