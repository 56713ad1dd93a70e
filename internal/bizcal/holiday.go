package bizcal

import (
	"math/bits"
	"sync"
	"time"
)

// The years for which national holidays are known. Outside them Holiday
// reports none, since the equinox formula and the laws are not known there,
// and a Calendar closes only weekends, the year-end days and vendor holidays.
const (
	MinYear = 2000
	MaxYear = 2099
)

// NationalHoliday is a day off under 国民の祝日に関する法律: a 国民の祝日, a
// 振替休日 (substitute holiday) or a 国民の休日 (citizens' holiday).
type NationalHoliday struct {
	Date   Date
	Name   string // official Japanese name, e.g. "憲法記念日"
	NameEN string // English name, e.g. "Constitution Memorial Day"
}

// Names of the days the law derives from the others.
const (
	NameSubstitute   = "振替休日"
	NameSubstituteEN = "Substitute Holiday"
	NameCitizens     = "国民の休日"
	NameCitizensEN   = "Citizens' Holiday"
)

// Holiday returns the national holiday on d, if there is one. The 29
// December – 3 January closure is not a national holiday (only 1 January,
// 元日, is); see Calendar.Closed for that.
func Holiday(d Date) (NationalHoliday, bool) {
	d = d.norm()
	if d.Year < MinYear || d.Year > MaxYear {
		return NationalHoliday{}, false
	}
	yt := &tables().years[d.Year-MinYear]
	i := yt.byDay[ydayOf(d).doy]
	if i == 0 {
		return NationalHoliday{}, false
	}
	return yt.holidays[i-1], true
}

// Holidays returns the national holidays of year in date order, substitute
// and citizens' holidays included; nil outside MinYear–MaxYear. The slice is
// the caller's own.
func Holidays(year int) []NationalHoliday {
	if year < MinYear || year > MaxYear {
		return nil
	}
	hs := tables().years[year-MinYear].holidays
	return append([]NationalHoliday(nil), hs...)
}

// rule is one regular 国民の祝日. Exactly one of day, monday and equinox
// says when it falls.
type rule struct {
	name, nameEN string
	from, until  int // years in force, inclusive; until 0 means still in force
	month        time.Month
	day          int // a fixed day of the month, or
	monday       int // the n-th Monday of the month (ハッピーマンデー), or
	equinox      int // the formula's constant × 1e6 (see equinoxDay)
}

// rules are the regular holidays in force at some time from MinYear on, with
// the years each applied, so that 2000–2019 come out right as well.
var rules = [...]rule{
	{name: "元日", nameEN: "New Year's Day", from: 1949, month: time.January, day: 1},
	{name: "成人の日", nameEN: "Coming of Age Day", from: 2000, month: time.January, monday: 2},
	{name: "建国記念の日", nameEN: "National Foundation Day", from: 1967, month: time.February, day: 11},
	{name: "天皇誕生日", nameEN: "The Emperor's Birthday", from: 2020, month: time.February, day: 23},
	{name: "春分の日", nameEN: "Vernal Equinox Day", from: 1949, month: time.March, equinox: 20843100},
	{name: "みどりの日", nameEN: "Greenery Day", from: 1989, until: 2006, month: time.April, day: 29},
	{name: "昭和の日", nameEN: "Showa Day", from: 2007, month: time.April, day: 29},
	{name: "憲法記念日", nameEN: "Constitution Memorial Day", from: 1949, month: time.May, day: 3},
	{name: "みどりの日", nameEN: "Greenery Day", from: 2007, month: time.May, day: 4},
	{name: "こどもの日", nameEN: "Children's Day", from: 1949, month: time.May, day: 5},
	{name: "海の日", nameEN: "Marine Day", from: 1996, until: 2002, month: time.July, day: 20},
	{name: "海の日", nameEN: "Marine Day", from: 2003, month: time.July, monday: 3},
	{name: "山の日", nameEN: "Mountain Day", from: 2016, month: time.August, day: 11},
	{name: "敬老の日", nameEN: "Respect for the Aged Day", from: 1966, until: 2002, month: time.September, day: 15},
	{name: "敬老の日", nameEN: "Respect for the Aged Day", from: 2003, month: time.September, monday: 3},
	{name: "秋分の日", nameEN: "Autumnal Equinox Day", from: 1948, month: time.September, equinox: 23248800},
	{name: "体育の日", nameEN: "Health and Sports Day", from: 2000, until: 2019, month: time.October, monday: 2},
	{name: "スポーツの日", nameEN: "Sports Day", from: 2020, month: time.October, monday: 2},
	{name: "文化の日", nameEN: "Culture Day", from: 1948, month: time.November, day: 3},
	{name: "勤労感謝の日", nameEN: "Labour Thanksgiving Day", from: 1948, month: time.November, day: 23},
	{name: "天皇誕生日", nameEN: "The Emperor's Birthday", from: 1989, until: 2018, month: time.December, day: 23},
}

// oneOff is a day set by a special law rather than by the regular rules.
type oneOff struct {
	date         Date
	name, nameEN string
	// moves marks a regular holiday moved to date: the regular holiday of
	// the same name in that year is then an ordinary day. Otherwise the row
	// adds an extra day, which counts as a 国民の祝日.
	moves bool
}

// oneOffs are the special-law days. A future one (a new enthronement, another
// moved holiday) is one more row; the substitute and citizens' holidays it
// causes follow from the rules and need no rows of their own. So 2019-04-30
// and 2019-05-02 are not listed: they are 国民の休日 because 2019-05-01 is
// between two 祝日, and 2021-08-09 is the 振替休日 for 山の日 on a Sunday.
var oneOffs = [...]oneOff{
	// 天皇の即位の日及び即位礼正殿の儀の行われる日を休日とする法律 (平成30年法律第99号).
	{Date{2019, time.May, 1}, "即位の日", "Enthronement Day", false},
	{Date{2019, time.October, 22}, "即位礼正殿の儀", "Enthronement Ceremony Day", false},
	// Tokyo 2020 Olympics and Paralympics special measures (平成30年法律第55号,
	// amended by 令和2年法律第68号 when the Games were postponed).
	{Date{2020, time.July, 23}, "海の日", "Marine Day", true},
	{Date{2020, time.July, 24}, "スポーツの日", "Sports Day", true},
	{Date{2020, time.August, 10}, "山の日", "Mountain Day", true},
	{Date{2021, time.July, 22}, "海の日", "Marine Day", true},
	{Date{2021, time.July, 23}, "スポーツの日", "Sports Day", true},
	{Date{2021, time.August, 8}, "山の日", "Mountain Day", true},
}

// equinoxDay returns the day of the month of an equinox in year y by the
// usual approximation, valid 1980–2099:
//
//	int(C + 0.242194*(y-1980)) - int((y-1980)/4)
//
// with C = 20.8431 (March) or 23.2488 (September). c is C × 1e6; integer
// arithmetic keeps float rounding out of the truncation.
func equinoxDay(y, c int) int {
	k := y - 1980
	return (c+242194*k)/1000000 - k/4
}

// regularHolidays appends the 国民の祝日 of year y, from the rules and the
// one-off table, to hs in no particular order.
func regularHolidays(y int, hs []NationalHoliday) []NationalHoliday {
	for _, r := range rules {
		if y < r.from || (r.until != 0 && y > r.until) {
			continue
		}
		d := r.day
		switch {
		case r.monday > 0:
			first := Date{y, r.month, 1}.Weekday()
			d = 1 + int(time.Monday-first+7)%7 + 7*(r.monday-1)
		case r.equinox > 0:
			d = equinoxDay(y, r.equinox)
		}
		hs = append(hs, NationalHoliday{Date{y, r.month, d}, r.name, r.nameEN})
	}
	for _, o := range oneOffs {
		if o.date.Year != y {
			continue
		}
		if o.moves {
			for i := range hs {
				if hs[i].Name == o.name {
					hs = append(hs[:i], hs[i+1:]...)
					break
				}
			}
		}
		hs = append(hs, NationalHoliday{o.date, o.name, o.nameEN})
	}
	return hs
}

// computeHolidays appends all national holidays of year y to dst in date
// order. It walks the 祝日 rather than every day: the tables for all years
// are built on first use and should cost well under a millisecond.
func computeHolidays(y int, dst []NationalHoliday) []NationalHoliday {
	n := yearLen(y)
	var buf [len(rules) + len(oneOffs) + 8]NationalHoliday // the derived days fit too
	all := regularHolidays(y, buf[:0])
	nRegular := len(all)
	var (
		at    [366]uint8 // 1 + index into all, or 0
		shuku [366]bool  // 国民の祝日, as opposed to derived 休日
	)
	for i, h := range all {
		doy := ydayOf(h.Date).doy
		at[doy], shuku[doy] = uint8(i+1), true
	}
	jan1 := Date{y, time.January, 1}.Weekday()
	weekday := func(doy int) time.Weekday { return (jan1 + time.Weekday(doy%7)) % 7 }
	derive := func(doy int, name, en string) {
		all = append(all, NationalHoliday{yday{y, doy}.date(), name, en})
		at[doy] = uint8(len(all))
	}

	// 振替休日 (第3条第2項). From 2007 it is the first following day that is
	// not a 国民の祝日; before that it could only be the Monday, and there was
	// none if the Monday was itself a 祝日.
	for i := range nRegular {
		doy := ydayOf(all[i].Date).doy
		if weekday(doy) != time.Sunday {
			continue
		}
		x := doy + 1
		for y >= 2007 && x < n && shuku[x] {
			x++
		}
		if x < n && at[x] == 0 {
			derive(x, NameSubstitute, NameSubstituteEN)
		}
	}

	// 国民の休日 (第3条第3項): a day whose previous and next days are both
	// 国民の祝日 (substitute holidays do not count). Before 2007 a Sunday or
	// a 振替休日 did not qualify; since then any day that is not itself a
	// 祝日 does, and one that is already a 振替休日 keeps that name.
	for i := range nRegular {
		doy := ydayOf(all[i].Date).doy
		if doy+2 >= n || !shuku[doy+2] || at[doy+1] != 0 {
			continue
		}
		if y < 2007 && weekday(doy+1) == time.Sunday {
			continue
		}
		derive(doy+1, NameCitizens, NameCitizensEN)
	}

	for doy := range n {
		if at[doy] != 0 {
			dst = append(dst, all[at[doy]-1])
		}
	}
	return dst
}

// yearTable is what the calendar needs of one year.
type yearTable struct {
	holidays []NationalHoliday
	byDay    [366]uint8 // 1 + index into holidays, or 0: no holiday
	// open[0] has bit doy set when that day is a weekday, no national
	// holiday and not in the year-end closure; open[1] ignores the closure
	// (Calendar.NoYearEnd).
	open [2]yearMask
}

// yearMask is a bitmap over the days of one year, bit i for day-of-year i.
// Counting and finding business days becomes popcount and bit scans over six
// words instead of a loop over days.
type yearMask [6]uint64

type allTables struct {
	years [MaxYear - MinYear + 1]yearTable
}

// tables builds the per-year tables on first use, once and without races;
// afterwards they are only read.
var tables = sync.OnceValue(buildTables)

func buildTables() *allTables {
	t := new(allTables)
	// One backing array for all years; Holidays hands out copies.
	all := make([]NationalHoliday, 0, len(t.years)*24)
	for i := range t.years {
		y := MinYear + i
		yt := &t.years[i]
		start := len(all)
		all = computeHolidays(y, all)
		yt.holidays = all[start:len(all):len(all)]
		base := weekdayMask(y)
		for j, h := range yt.holidays {
			doy := ydayOf(h.Date).doy
			yt.byDay[doy] = uint8(j + 1)
			base[doy>>6] &^= 1 << (doy & 63)
		}
		yt.open[1] = base
		yt.open[0] = withoutYearEnd(base, y)
	}
	return t
}

// weekPattern[s] has bit i set when (s + i) mod 7 is Monday–Friday. As 64 is
// 1 mod 7, word k of a year whose 1 January is weekday w is
// weekPattern[(w+k)%7].
var weekPattern = func() (p [7]uint64) {
	for s := range p {
		for i := range 64 {
			if wd := (s + i) % 7; wd != int(time.Saturday) && wd != int(time.Sunday) {
				p[s] |= 1 << i
			}
		}
	}
	return p
}()

// weekdayMask returns the Monday–Friday days of year y.
func weekdayMask(y int) yearMask {
	w := int(Date{y, time.January, 1}.Weekday())
	var m yearMask
	for k := range m {
		m[k] = weekPattern[(w+k)%7]
	}
	m[5] &= 1<<(yearLen(y)-5*64) - 1 // days past 31 December
	return m
}

// withoutYearEnd clears 1–3 January and 29–31 December.
func withoutYearEnd(m yearMask, y int) yearMask {
	m[0] &^= 0b111
	last := yearLen(y) - 1 - 5*64
	m[5] &^= 0b111 << (last - 2)
	return m
}

// maskOf returns the open days of year y: from the tables inside
// MinYear–MaxYear, otherwise weekdays less the year-end closure.
func maskOf(y int, noYearEnd bool) *yearMask {
	if y >= MinYear && y <= MaxYear {
		yt := &tables().years[y-MinYear]
		if noYearEnd {
			return &yt.open[1]
		}
		return &yt.open[0]
	}
	m := weekdayMask(y)
	if !noYearEnd {
		m = withoutYearEnd(m, y)
	}
	return &m
}

// popRange counts the set bits lo..hi (inclusive) of m.
func (m *yearMask) popRange(lo, hi int) int {
	n := 0
	wl, wh := lo>>6, hi>>6
	for w := wl; w <= wh; w++ {
		x := m[w]
		if w == wl {
			x &= ^uint64(0) << (lo & 63)
		}
		if w == wh {
			x &= ^uint64(0) >> (63 - hi&63)
		}
		n += bits.OnesCount64(x)
	}
	return n
}

func (m *yearMask) has(doy int) bool { return m[doy>>6]&(1<<(doy&63)) != 0 }
