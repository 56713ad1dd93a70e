package advisory

import "github.com/enmei-project/enmei/internal/bizcal"

// Policy is the vendor's release guideline: CVEs scoring Threshold or more
// are targeted, with a fix due Days business days after disclosure.
type Policy struct {
	Threshold float64 // 7.0
	Days      int     // 14
	Calendar  bizcal.Calendar
}

// DefaultPolicy is the guideline of PRODUCT.md §7: CVSS ≥ 7.0, 14
// business days, on the Japanese calendar with the year-end closure.
func DefaultPolicy(cal bizcal.Calendar) Policy {
	return Policy{Threshold: 7.0, Days: 14, Calendar: cal}
}

// Assessment is what the policy says of a record on a given day.
type Assessment struct {
	Targeted bool
	// Overridden is set when the vendor's override decided Targeted.
	Overridden bool
	Due        string // YYYY-MM-DD; "" unless targeted with a known disclosure date
	// DaysLeft is the business days from today to Due (negative once
	// overdue); meaningful only when Due is set.
	DaysLeft int
	Overdue  bool
}

// Assess applies the policy to r on today.
func (p Policy) Assess(r Record, today bizcal.Date) Assessment {
	a := Assessment{Targeted: r.Score >= p.Threshold}
	if r.Override != nil {
		a.Targeted, a.Overridden = r.Override.Targeted, true
	}
	if !a.Targeted || r.Published == "" {
		return a
	}
	pub, err := bizcal.ParseDate(r.Published)
	if err != nil {
		return a
	}
	due := p.Calendar.AddBusinessDays(pub, p.Days)
	a.Due = due.String()
	a.DaysLeft = p.Calendar.BusinessDaysBetween(today, due)
	a.Overdue = !r.Status.Closed() && today.After(due)
	return a
}
