package support

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/enmei-project/enmei/internal/bizcal"
	"github.com/enmei-project/enmei/internal/errs"
)

func TestContractYear(t *testing.T) {
	for _, c := range []struct {
		start, day         string
		yearStart, yearEnd string
	}{
		{"2026-04-01", "2026-04-01", "2026-04-01", "2027-03-31"},
		{"2026-04-01", "2027-03-31", "2026-04-01", "2027-03-31"},
		{"2026-04-01", "2027-04-01", "2027-04-01", "2028-03-31"},
		{"2026-04-01", "2030-07-15", "2030-04-01", "2031-03-31"}, // fifth year
		{"2026-04-01", "2031-03-31", "2030-04-01", "2031-03-31"},
		{"2026-04-01", "2026-03-01", "2026-04-01", "2027-03-31"}, // before the start: the first year
		{"2026-04-01", "2019-01-01", "2026-04-01", "2027-03-31"},
		{"2026-12-31", "2027-12-30", "2026-12-31", "2027-12-30"},
		{"2026-12-31", "2027-12-31", "2027-12-31", "2028-12-30"},
		{"2026-01-01", "2026-12-31", "2026-01-01", "2026-12-31"},
		// A 29 February start: anniversaries on 28 February in common years.
		{"2024-02-29", "2024-02-29", "2024-02-29", "2025-02-27"},
		{"2024-02-29", "2025-02-27", "2024-02-29", "2025-02-27"},
		{"2024-02-29", "2025-02-28", "2025-02-28", "2026-02-27"},
		{"2024-02-29", "2025-03-01", "2025-02-28", "2026-02-27"},
		{"2024-02-29", "2028-02-28", "2027-02-28", "2028-02-28"},
		{"2024-02-29", "2028-02-29", "2028-02-29", "2029-02-27"},
		{"2024-02-29", "2100-03-01", "2100-02-28", "2101-02-27"}, // 2100 is not leap
		// Around a leap day without a 29 February start.
		{"2025-03-01", "2028-02-29", "2027-03-01", "2028-02-29"},
		{"2027-02-28", "2028-02-29", "2028-02-28", "2029-02-27"},
	} {
		ys, ye, err := ContractYear(c.start, c.day)
		if err != nil || ys != c.yearStart || ye != c.yearEnd {
			t.Errorf("ContractYear(%s, %s) = %s, %s, %v; want %s, %s", c.start, c.day, ys, ye, err, c.yearStart, c.yearEnd)
		}
	}
	for _, c := range []struct{ start, day, word string }{
		{"2026-2-1", "2026-03-01", "contract start"},
		{"2026-04-01", "2026-02-30", "day"},
		{"", "2026-03-01", "contract start"},
		{"2026-04-01", "20260401", "day"},
	} {
		_, _, err := ContractYear(c.start, c.day)
		if !errs.Is(err, errs.Invalid) || !strings.HasPrefix(err.Error(), c.word) || !strings.Contains(err.Error(), "YYYY-MM-DD") {
			t.Errorf("ContractYear(%q, %q) = %v, want an invalid error about the %s", c.start, c.day, err, c.word)
		}
	}
}

func TestAllowance(t *testing.T) {
	for _, c := range []struct {
		a    Allowance
		left int
		can  bool
	}{
		{Allowance{Total: 2}, 2, true},
		{Allowance{Total: 2, Used: 1}, 1, true},
		{Allowance{Total: 2, Used: 2}, 0, false},
		{Allowance{Total: 2, Used: 5}, 0, false}, // lowered mid-year: no debt
		{Allowance{Total: 0}, 0, false},
		{Allowance{Total: Unlimited}, Unlimited, true},
		{Allowance{Total: Unlimited, Used: 500}, Unlimited, true},
	} {
		if got := c.a.Left(); got != c.left {
			t.Errorf("%+v.Left() = %d, want %d", c.a, got, c.left)
		}
		if got := c.a.CanOpen(); got != c.can {
			t.Errorf("%+v.CanOpen() = %v, want %v", c.a, got, c.can)
		}
	}
}

func TestParseInquiries(t *testing.T) {
	for _, c := range []struct {
		in   string
		want int
	}{
		{"unlimited", Unlimited},
		{"Unlimited", Unlimited},
		{"0", 0},
		{"2", 2},
		{"12", 12},
		{"1000", 1000},
		{"007", 7},
	} {
		if got, err := ParseInquiries(c.in); err != nil || got != c.want {
			t.Errorf("ParseInquiries(%q) = %d, %v; want %d", c.in, got, err, c.want)
		}
	}
	for _, in := range []string{"", "1001", "10000", "-1", "+2", " 2", "2 ", "2.5", "two", "unlimit", "0x10", "99999999999999999999"} {
		_, err := ParseInquiries(in)
		if !errs.Is(err, errs.Invalid) {
			t.Errorf("ParseInquiries(%q) = %v, want an invalid error", in, err)
			continue
		}
		for _, word := range []string{"--inquiries", "0 to 1000", `"unlimited"`} {
			if !strings.Contains(err.Error(), word) {
				t.Errorf("ParseInquiries(%q): %q does not mention %s", in, err, word)
			}
		}
	}
	if Unlimited != -1 {
		t.Errorf("Unlimited = %d, want -1", Unlimited)
	}
}

func TestQueue(t *testing.T) {
	day := func(d int) time.Time { return time.Date(2026, 6, d, 10, 0, 0, 0, time.UTC) }
	for _, c := range []struct {
		name  string
		items []QueueItem
		want  []string
	}{
		{"empty", nil, nil},
		{"by age", []QueueItem{{ID: "c", Opened: day(3)}, {ID: "a", Opened: day(1)}, {ID: "b", Opened: day(2)}},
			[]string{"a", "b", "c"}},
		{"started first, prioritised next, then the rest", []QueueItem{
			{ID: "old", Opened: day(1)},
			{ID: "p2", Opened: day(2), Priority: 2},
			{ID: "p1-late", Opened: day(6), Priority: 1},
			{ID: "p1", Opened: day(5), Priority: 1},
			{ID: "started-late", Opened: day(7), Started: true},
			{ID: "started", Opened: day(4), Started: true, Priority: 3}, // its priority no longer matters
			{ID: "new", Opened: day(8)},
		}, []string{"started", "started-late", "p1", "p1-late", "p2", "old", "new"}},
		{"ties by ID", []QueueItem{
			{ID: "T-2", Opened: day(1), Priority: 1},
			{ID: "T-10", Opened: day(1), Priority: 1},
			{ID: "T-3", Opened: day(1)},
			{ID: "T-1", Opened: day(1)},
		}, []string{"T-10", "T-2", "T-1", "T-3"}},
		{"same instant in other zones", []QueueItem{
			{ID: "b", Opened: day(1)},
			{ID: "a", Opened: day(1).In(time.FixedZone("JST", 9*3600))},
		}, []string{"a", "b"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			in := slices.Clone(c.items)
			got := Queue(c.items)
			var ids []string
			for _, it := range got {
				ids = append(ids, it.ID)
			}
			if !slices.Equal(ids, c.want) {
				t.Errorf("Queue = %v, want %v", ids, c.want)
			}
			if !slices.Equal(in, c.items) {
				t.Errorf("Queue modified its argument: %v", c.items)
			}
			// The order does not depend on the input's.
			rev := slices.Clone(c.items)
			slices.Reverse(rev)
			if got2 := Queue(rev); !slices.Equal(got2, got) {
				t.Errorf("Queue(reversed) = %v, want %v", got2, got)
			}
		})
	}
}

func TestContactEffective(t *testing.T) {
	for _, c := range []struct {
		name      string
		cal       bizcal.Calendar
		requested time.Time
		want      string
	}{
		{"a plain week", bizcal.Calendar{}, jst(t, "2026-06-09 10:00"), "2026-06-12"},
		{"late in the day counts as that day", bizcal.Calendar{}, jst(t, "2026-06-09 23:59"), "2026-06-12"},
		{"over a weekend", bizcal.Calendar{}, jst(t, "2026-06-11 10:00"), "2026-06-16"},
		{"on a Saturday", bizcal.Calendar{}, jst(t, "2026-06-13 10:00"), "2026-06-17"},
		{"over 勤労感謝の日", bizcal.Calendar{}, jst(t, "2026-11-20 10:00"), "2026-11-26"},
		{"over Golden Week", bizcal.Calendar{}, jst(t, "2026-04-28 10:00"), "2026-05-07"},
		// 28 December, then 4 and 5 January after the closure.
		{"over the year-end closure", bizcal.Calendar{}, jst(t, "2026-12-25 15:00"), "2027-01-05"},
		{"the day in Tokyo, not in UTC", bizcal.Calendar{}, time.Date(2026, 12, 24, 16, 0, 0, 0, time.UTC), "2027-01-05"},
		{"no year-end closure", bizcal.Calendar{NoYearEnd: true}, jst(t, "2026-12-25 15:00"), "2026-12-30"},
		{"over a vendor holiday", vendorCal, jst(t, "2026-06-09 10:00"), "2026-06-15"},
	} {
		if got := ContactEffective(c.cal, c.requested).String(); got != c.want {
			t.Errorf("%s: ContactEffective(%s) = %s, want %s", c.name, c.requested, got, c.want)
		}
	}
}

func TestCheckContactEffective(t *testing.T) {
	req := jst(t, "2026-06-09 23:30")
	for _, c := range []struct {
		day string
		ok  bool
	}{
		{"2026-06-09", true}, // the day of the request
		{"2026-06-10", true}, // earlier than the default, allowed
		{"2026-07-01", true},
		{"2026-06-08", false},
		{"2026-6-10", false},
	} {
		err := CheckContactEffective(req, c.day)
		if c.ok != (err == nil) || err != nil && !errs.Is(err, errs.Invalid) {
			t.Errorf("CheckContactEffective(%s) = %v, want ok %v", c.day, err, c.ok)
		}
	}
	if err := CheckContactEffective(req, "2026-06-08"); err == nil || !strings.Contains(err.Error(), "2026-06-09") {
		t.Errorf("the error should name the day of the request: %v", err)
	}
}

func TestContactOn(t *testing.T) {
	changes := []ContactChange{
		{Email: "e@example.jp", Effective: "2026-08-01", RequestedAt: jst(t, "2026-06-01 10:00")},
		{Email: "c@example.jp", Effective: "2026-07-01", RequestedAt: jst(t, "2026-06-20 10:00")},
		{Email: "d@example.jp", Effective: "2026-06-12", RequestedAt: jst(t, "2026-06-10 10:00")},
		{Email: "b@example.jp", Effective: "2026-06-12", RequestedAt: jst(t, "2026-06-09 10:00")},
	}
	for _, c := range []struct {
		changes []ContactChange
		day     string
		want    string
	}{
		{nil, "2026-06-12", "a@example.jp"},
		{changes, "2026-06-11", "a@example.jp"},
		{changes, "2026-06-12", "d@example.jp"}, // same day: the later request wins
		{changes, "2026-06-30", "d@example.jp"},
		{changes, "2026-07-01", "c@example.jp"}, // in effect, though requested after e
		{changes, "2026-07-31", "c@example.jp"},
		{changes, "2026-08-01", "e@example.jp"},
		{changes, "2030-01-01", "e@example.jp"},
		{changes[2:], "2026-12-31", "d@example.jp"},
		{changes[3:], "2026-12-31", "b@example.jp"},
	} {
		if got := ContactOn("a@example.jp", c.changes, c.day); got != c.want {
			t.Errorf("ContactOn(%d changes, %s) = %s, want %s", len(c.changes), c.day, got, c.want)
		}
		rev := slices.Clone(c.changes)
		slices.Reverse(rev)
		if got := ContactOn("a@example.jp", rev, c.day); got != c.want {
			t.Errorf("ContactOn(%d changes reversed, %s) = %s, want %s", len(c.changes), c.day, got, c.want)
		}
	}
}
