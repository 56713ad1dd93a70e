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

// Decide is the part of the assessment that does not depend on the day:
// whether r is targeted and, if so, its due date (zero when the disclosure
// date is unknown).
func (p Policy) Decide(r Record) (targeted, overridden bool, due bizcal.Date, hasDue bool) {
	targeted = r.Score >= p.Threshold
	if r.Override != nil {
		targeted, overridden = r.Override.Targeted, true
	}
	if !targeted || r.Published == "" {
		return targeted, overridden, due, false
	}
	pub, err := bizcal.ParseDate(r.Published)
	if err != nil {
		return targeted, overridden, due, false
	}
	return targeted, overridden, p.Calendar.AddBusinessDays(pub, p.Days), true
}

// Assess applies the policy to r on today.
func (p Policy) Assess(r Record, today bizcal.Date) Assessment {
	var a Assessment
	var due bizcal.Date
	var ok bool
	a.Targeted, a.Overridden, due, ok = p.Decide(r)
	if !ok {
		return a
	}
	a.Due = due.String()
	a.DaysLeft = p.Calendar.BusinessDaysBetween(today, due)
	a.Overdue = !r.Status.Closed() && today.After(due)
	return a
}
