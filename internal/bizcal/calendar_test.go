package bizcal

import (
	"math/rand/v2"
	"testing"
)

func dates(t testing.TB, ss ...string) []Date {
	var ds []Date
	for _, s := range ss {
		ds = append(ds, mustDate(t, s))
	}
	return ds
}

// Each expected date was counted by hand on a printed calendar; the
// comments give the count for the tricky ones.
var addCases = []struct {
	name      string
	from      string
	n         int
	vendor    []string
	noYearEnd bool
	want      string
}{
	{name: "before Golden Week", from: "2026-04-28", n: 14, want: "2026-05-22"},
	// 4/30 Thu(1), 5/1 Fri(2), 5/2–5/6 closed (5/6 振替休日), 5/7(3), 5/8(4),
	// 5/11–15 (5–9), 5/18–22 (10–14).
	{name: "before the year-end closure", from: "2026-12-25", n: 14, want: "2027-01-21"},
	// 12/28 Mon(1), 12/29–1/3 closed, 1/4–1/8 (2–6), 1/11 成人の日,
	// 1/12–15 (7–10), 1/18–21 (11–14).
	{name: "year-end, NoYearEnd", from: "2026-12-25", n: 14, noYearEnd: true, want: "2027-01-18"},
	// 12/28–31 (1–4), 1/1 元日, 1/4–8 (5–9), 1/11 成人の日, 1/12–15 (10–13), 1/18(14).
	{name: "closure ends on a Monday", from: "2027-12-28", n: 1, want: "2028-01-04"},
	// 2028-01-03 is a Monday but still closed.
	{name: "closure off", from: "2027-12-28", n: 1, noYearEnd: true, want: "2027-12-29"},
	{name: "over Silver Week", from: "2026-09-18", n: 3, want: "2026-09-28"},
	// 9/19–23 closed (Sat, Sun, 敬老の日, 国民の休日, 秋分の日): 9/24(1), 9/25(2), 9/28(3).
	{name: "Silver Week then スポーツの日", from: "2026-09-18", n: 14, want: "2026-10-14"},
	// 9/24, 25, 28, 29, 30 (1–5), 10/1, 2 (6–7), 10/5–9 (8–12), 10/12 スポーツの日, 10/13(13), 10/14(14).
	{name: "Friday disclosure", from: "2026-06-05", n: 14, want: "2026-06-25"},
	{name: "vendor holiday", from: "2026-06-05", n: 14, vendor: []string{"2026-06-10"}, want: "2026-06-26"},
	{name: "vendor holiday on a Saturday", from: "2026-06-05", n: 14, vendor: []string{"2026-06-13"}, want: "2026-06-25"},
	{name: "vendor holiday listed twice", from: "2026-06-05", n: 14, vendor: []string{"2026-06-10", "2026-06-10"}, want: "2026-06-26"},
	{name: "vendor holiday on the due day", from: "2026-06-05", n: 14, vendor: []string{"2026-06-25"}, want: "2026-06-26"},
	{name: "vendor holiday on a national holiday", from: "2026-04-28", n: 14, vendor: []string{"2026-05-06"}, want: "2026-05-22"},
	{name: "vendor holidays in the added stretch", from: "2026-06-05", n: 14, vendor: []string{"2026-06-29", "2026-06-10", "2026-06-26"}, want: "2026-06-30"},
	// 6/10 shifts the 14th day to 6/26, itself closed, then 6/29 too: 6/30.
	{name: "n=0 on a Saturday", from: "2026-05-02", n: 0, want: "2026-05-02"},
	{name: "n=1 on a Saturday", from: "2026-05-02", n: 1, want: "2026-05-07"},
	{name: "from a holiday", from: "2026-05-04", n: 1, want: "2026-05-07"},
	{name: "substitute holiday 2029", from: "2029-04-27", n: 1, want: "2029-05-01"},
	{name: "30 days from New Year", from: "2026-01-01", n: 30, want: "2026-02-17"},
	// 1/5–9 (1–5), 1/12 成人の日, 1/13–16 (6–9), 1/19–23 (10–14), 1/26–30 (15–19),
	// 2/2–6 (20–24), 2/9, 10 (25, 26), 2/11 建国記念の日, 2/12, 13 (27, 28), 2/16(29), 2/17(30).
	{name: "closure into 成人の日", from: "2029-12-27", n: 14, want: "2030-01-23"},
	// 12/28 Fri(1), 1/4 Fri(2), 1/7–11 (3–7), 1/14 成人の日, 1/15–18 (8–11), 1/21–23 (12–14).
	{name: "into 2036", from: "2035-12-28", n: 1, want: "2036-01-04"},
	{name: "past MaxYear", from: "2099-12-30", n: 1, want: "2100-01-04"},
	// Outside MinYear–MaxYear only weekends and the closure count.
	{name: "back one day", from: "2026-05-07", n: -1, want: "2026-05-01"},
	{name: "back over the closure", from: "2027-01-04", n: -1, want: "2026-12-28"},
	{name: "back over a vendor holiday", from: "2026-06-12", n: -3, vendor: []string{"2026-06-10"}, want: "2026-06-08"},
	// 6/11(-1), 6/10 vendor, 6/9(-2), 6/8(-3).
}

func TestAddBusinessDays(t *testing.T) {
	for _, tc := range addCases {
		t.Run(tc.name, func(t *testing.T) {
			c := Calendar{VendorHolidays: dates(t, tc.vendor...), NoYearEnd: tc.noYearEnd}
			from, want := mustDate(t, tc.from), mustDate(t, tc.want)
			if got := c.AddBusinessDays(from, tc.n); got != want {
				t.Errorf("AddBusinessDays(%s, %d) = %s, want %s", from, tc.n, got, want)
			}
			if tc.n >= 0 || c.IsBusinessDay(from) {
				if got := c.BusinessDaysBetween(from, want); got != tc.n {
					t.Errorf("BusinessDaysBetween(%s, %s) = %d, want %d", from, want, got, tc.n)
				}
			}
		})
	}
}

func TestBusinessDaysBetween(t *testing.T) {
	cases := []struct {
		from, to string
		vendor   []string
		want     int
	}{
		{"2026-04-28", "2026-05-22", nil, 14},
		{"2026-05-22", "2026-04-28", nil, -14}, // to before from: minus the days in (4/28, 5/22]
		{"2026-05-07", "2026-05-01", nil, -1},  // (5/1, 5/7] holds only 5/7
		{"2026-05-01", "2026-05-07", nil, 1},
		{"2026-05-01", "2026-05-06", nil, 0},
		{"2026-05-02", "2026-05-03", nil, 0},
		{"2026-06-05", "2026-06-05", nil, 0},
		{"2026-06-05", "2026-06-26", []string{"2026-06-10"}, 14},
		// 2026: 261 weekdays (starts Thu, 365 days), less 17 weekday holidays
		// (1/1, 1/12, 2/11, 2/23, 3/20, 4/29, 5/4–6, 7/20, 8/11, 9/21–23,
		// 10/12, 11/3, 11/23) and 4 closure weekdays (1/2, 12/29–31).
		{"2025-12-31", "2026-12-31", nil, 240},
		// 2027: 261 weekdays (starts Fri), less 16 weekday holidays (1/1,
		// 1/11, 2/11, 2/23, 3/22, 4/29, 5/3–5, 7/19, 8/11, 9/20, 9/23, 10/11,
		// 11/3, 11/23) and 3 closure weekdays (12/29–31).
		{"2026-12-31", "2027-12-31", nil, 242},
		{"2027-12-31", "2025-12-31", nil, -482},
	}
	for _, tc := range cases {
		c := Calendar{VendorHolidays: dates(t, tc.vendor...)}
		from, to := mustDate(t, tc.from), mustDate(t, tc.to)
		if got := c.BusinessDaysBetween(from, to); got != tc.want {
			t.Errorf("BusinessDaysBetween(%s, %s) = %d, want %d", from, to, got, tc.want)
		}
	}
}

func TestClosed(t *testing.T) {
	c := Calendar{VendorHolidays: dates(t, "2026-06-10", "2026-12-29")}
	cases := []struct {
		date, reason string
	}{
		{"2026-05-03", "憲法記念日"},
		{"2026-05-06", NameSubstitute},
		{"2026-01-01", "元日"}, // the holiday, not the closure
		{"2026-12-29", ReasonYearEnd},
		{"2027-01-02", ReasonYearEnd}, // a Saturday, but the closure says more
		{"2026-06-10", ReasonVendor},
		{"2026-06-13", ReasonSaturday},
		{"2026-06-14", ReasonSunday},
		{"2026-06-11", ""},
	}
	for _, tc := range cases {
		d := mustDate(t, tc.date)
		reason, closed := c.Closed(d)
		if reason != tc.reason || closed != (tc.reason != "") {
			t.Errorf("Closed(%s) = %q, %v; want %q", d, reason, closed, tc.reason)
		}
	}
	if reason, closed := (Calendar{NoYearEnd: true}).Closed(mustDate(t, "2026-12-29")); closed {
		t.Errorf("NoYearEnd: Closed(2026-12-29) = %q", reason)
	}
}

// testCalendars are the shapes of Calendar the properties are checked on.
func testCalendars(t testing.TB) []Calendar {
	return []Calendar{
		{},
		{NoYearEnd: true},
		{VendorHolidays: dates(t,
			"2026-06-10", "2026-06-10", "2026-06-13", // duplicate, Saturday
			"2026-05-06", "2026-12-28", "2027-01-04", // on a holiday, around the closure
			"2027-07-01", "2028-07-03", "2030-07-01", "2034-07-03", "2099-12-30", "2100-01-04")},
		{NoYearEnd: true, VendorHolidays: dates(t, "2026-12-29", "2026-12-30", "2027-01-04")},
	}
}

// naiveAdd is the obvious day-by-day definition, built on Closed, which
// shares no code with the bitmaps.
func naiveAdd(c Calendar, from Date, n int) Date {
	step := 1
	if n < 0 {
		step = -1
	}
	d := from
	for n != 0 {
		d = d.AddDays(step)
		if _, closed := c.Closed(d); !closed {
			n -= step
		}
	}
	return d
}

func naiveBetween(c Calendar, from, to Date) int {
	sign := 1
	if to.Before(from) {
		from, to, sign = to, from, -1
	}
	n := 0
	for d := from.AddDays(1); !d.After(to); d = d.AddDays(1) {
		if _, closed := c.Closed(d); !closed {
			n++
		}
	}
	return sign * n
}

func TestBusinessDayProperties(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	ns := []int{0, 1, 2, 3, 5, 10, 14, 20, 30, 45, 60, 120, 250, 600, -1, -2, -14, -30, -250}
	for ci, c := range testCalendars(t) {
		// Every day of 2025–2036, and random days across the whole range.
		var froms []Date
		for d := D(2025, 12, 1); d.Before(D(2036, 2, 1)); d = d.AddDays(1) {
			froms = append(froms, d)
		}
		for range 2000 {
			froms = append(froms, D(MinYear-1, 12, 1).AddDays(rng.IntN(102*366)))
		}
		for _, x := range froms {
			_, closed := c.Closed(x)
			if c.IsBusinessDay(x) == closed {
				t.Fatalf("calendar %d: IsBusinessDay(%s) = %v but Closed says %v", ci, x, !closed, closed)
			}
			n := ns[rng.IntN(len(ns))]
			got := c.AddBusinessDays(x, n)
			if want := naiveAdd(c, x, n); got != want {
				t.Fatalf("calendar %d: AddBusinessDays(%s, %d) = %s, want %s", ci, x, n, got, want)
			}
			if n != 0 && !c.IsBusinessDay(got) {
				t.Fatalf("calendar %d: AddBusinessDays(%s, %d) = %s, not a business day", ci, x, n, got)
			}
			if n >= 0 || !closed {
				if back := c.BusinessDaysBetween(x, got); back != n {
					t.Fatalf("calendar %d: BusinessDaysBetween(%s, AddBusinessDays(%s, %d) = %s) = %d", ci, x, x, n, got, back)
				}
			}
			y := x.AddDays(rng.IntN(800) - 400)
			if got, want := c.BusinessDaysBetween(x, y), naiveBetween(c, x, y); got != want {
				t.Fatalf("calendar %d: BusinessDaysBetween(%s, %s) = %d, want %d", ci, x, y, got, want)
			}
			if a, b := c.BusinessDaysBetween(x, y), c.BusinessDaysBetween(y, x); a != -b {
				t.Fatalf("calendar %d: BusinessDaysBetween not antisymmetric for %s, %s: %d, %d", ci, x, y, a, b)
			}
		}
	}
}

func TestHugeSpans(t *testing.T) {
	var c Calendar
	from := D(2026, 1, 1)
	to := c.AddBusinessDays(from, 1_000_000) // thousands of years, mostly outside the tables
	if got := c.BusinessDaysBetween(from, to); got != 1_000_000 {
		t.Errorf("BusinessDaysBetween(%s, %s) = %d", from, to, got)
	}
	if back := c.AddBusinessDays(to, -1_000_000); back.After(from) || c.BusinessDaysBetween(back, from) != 0 {
		t.Errorf("AddBusinessDays(%s, -1e6) = %s", to, back)
	}
	// A vendor list longer than any real one still gives the right answer.
	var v []Date
	for d := D(2026, 1, 1); d.Year == 2026; d = d.AddDays(3) {
		v = append(v, d)
	}
	c.VendorHolidays = v
	for _, x := range []Date{D(2026, 1, 1), D(2026, 6, 15), D(2026, 12, 1)} {
		if got, want := c.AddBusinessDays(x, 40), naiveAdd(c, x, 40); got != want {
			t.Errorf("AddBusinessDays(%s, 40) with %d vendor days = %s, want %s", x, len(v), got, want)
		}
	}
}

var sink int

func benchInputs() (froms []Date, ns []int) {
	rng := rand.New(rand.NewPCG(3, 4))
	for range 1024 {
		froms = append(froms, D(2026, 1, 1).AddDays(rng.IntN(2*365)))
		ns = append(ns, 14+rng.IntN(17)) // 14–30 business days
	}
	return froms, ns
}

func BenchmarkAddBusinessDays(b *testing.B) {
	froms, ns := benchInputs()
	for _, bc := range []struct {
		name string
		c    Calendar
	}{
		{"national", Calendar{}},
		{"vendor=5", Calendar{VendorHolidays: []Date{D(2026, 6, 10), D(2026, 10, 1), D(2027, 6, 10), D(2027, 10, 1), D(2027, 8, 13)}}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			i := 0
			for b.Loop() {
				d := bc.c.AddBusinessDays(froms[i&1023], ns[i&1023])
				sink += d.Day
				i++
			}
		})
	}
}

func BenchmarkBusinessDaysBetween(b *testing.B) {
	froms, _ := benchInputs()
	rng := rand.New(rand.NewPCG(5, 6))
	for _, bc := range []struct {
		name string
		span int // calendar days, up to
	}{{"span=6w", 42}, {"span=1y", 366}} {
		tos := make([]Date, len(froms))
		for i, f := range froms {
			tos[i] = f.AddDays(1 + rng.IntN(bc.span))
		}
		b.Run(bc.name, func(b *testing.B) {
			var c Calendar
			i := 0
			for b.Loop() {
				sink += c.BusinessDaysBetween(froms[i&1023], tos[i&1023])
				i++
			}
		})
	}
}

func BenchmarkHoliday(b *testing.B) {
	froms, _ := benchInputs()
	i := 0
	for b.Loop() {
		if _, ok := Holiday(froms[i&1023]); ok {
			sink++
		}
		i++
	}
}

// BenchmarkBuildTables is the one-time cost the first call pays.
func BenchmarkBuildTables(b *testing.B) {
	for b.Loop() {
		sink += len(buildTables().years)
	}
}
