package entitle

import (
	"strings"
	"testing"
	"time"
)

func at(day string) time.Time {
	t, _ := ParseDate(day)
	return t.Add(12 * time.Hour)
}

func TestPhaseAt(t *testing.T) {
	l := Lifecycle{FullUntil: "2024-05-31", SecurityUntil: "2027-05-31", ExtendedUntil: "2032-05-31"}
	for _, c := range []struct {
		day   string
		l     Lifecycle
		phase string
		until string
	}{
		{"2024-05-31", l, PhaseFull, "2024-05-31"},
		{"2024-06-01", l, PhaseSecurity, "2027-05-31"},
		{"2027-06-01", l, PhaseExtended, "2032-05-31"},
		{"2032-06-01", l, PhaseEnd, ""},
		{"2030-01-01", Lifecycle{FullUntil: l.FullUntil, SecurityUntil: l.SecurityUntil, ExtendedUntil: l.ExtendedUntil, End: "2030-12-31"}, PhaseExtended, "2030-12-31"},
		{"2031-01-01", Lifecycle{ExtendedUntil: "2032-05-31", End: "2030-12-31"}, PhaseEnd, ""},
		{"2026-01-01", Lifecycle{End: "2028-06-30"}, PhaseExtended, "2028-06-30"},
		{"2026-01-01", Lifecycle{}, "", ""},
	} {
		if got := PhaseAt(c.l, at(c.day)); got.Name != c.phase || got.Until != c.until {
			t.Errorf("%s %+v: %+v, want %s until %q", c.day, c.l, got, c.phase, c.until)
		}
	}
	// Asia/Tokyo: 2024-05-31 15:00 UTC is already June 1st.
	if got := PhaseAt(l, time.Date(2024, 5, 31, 15, 0, 0, 0, time.UTC)); got.Name != PhaseSecurity {
		t.Errorf("the day turns in Tokyo: %+v", got)
	}
}

func TestCheckLifecycle(t *testing.T) {
	if err := CheckLifecycle(Lifecycle{FullUntil: "2024-05-31", ExtendedUntil: "2032-05-31"}); err != nil {
		t.Error(err)
	}
	if err := CheckLifecycle(Lifecycle{FullUntil: "2028-05-31", SecurityUntil: "2027-05-31"}); err == nil || !strings.Contains(err.Error(), "before") {
		t.Errorf("out of order = %v", err)
	}
	if err := CheckLifecycle(Lifecycle{SecurityUntil: "31/05/2027"}); err == nil {
		t.Error("a bad date was accepted")
	}
}

func TestCheckOnSale(t *testing.T) {
	if err := CheckOnSale("p", "2028-06-30", at("2027-06-29")); err != nil {
		t.Errorf("a year and a day before the end: %v", err)
	}
	err := CheckOnSale("p", "2028-06-30", at("2027-06-30"))
	if err == nil || !strings.Contains(err.Error(), "2028-06-30") || !strings.Contains(err.Error(), "2027-06-30") {
		t.Errorf("one year before the end: %v", err)
	}
	if err := CheckOnSale("p", "", at("2099-01-01")); err != nil {
		t.Errorf("no end: %v", err)
	}
	// A leap day's year before.
	if SalesEnd("2028-02-29") != "2027-03-01" {
		t.Errorf("SalesEnd(2028-02-29) = %s", SalesEnd("2028-02-29"))
	}
}
