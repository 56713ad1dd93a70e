package advisory

import (
	"fmt"
	"strings"
	"time"
)

// Status is a CVE's state for one product on the tracker.
type Status string

// The nine statuses (TuxCare's tracker has the same).
const (
	NeedsTriage   Status = "needs-triage"
	InResearch    Status = "in-research"
	InProgress    Status = "in-progress"
	InTesting     Status = "in-testing"
	InRollout     Status = "in-rollout"
	Released      Status = "released"
	Ignored       Status = "ignored"
	NotVulnerable Status = "not-vulnerable"
	AlreadyFixed  Status = "already-fixed"
)

// Statuses lists every status in the order a fix moves through them.
var Statuses = []Status{NeedsTriage, InResearch, InProgress, InTesting, InRollout, Released, Ignored, NotVulnerable, AlreadyFixed}

// ParseStatus checks a status name.
func ParseStatus(s string) (Status, error) {
	for _, st := range Statuses {
		if string(st) == s {
			return st, nil
		}
	}
	names := make([]string, len(Statuses))
	for i, st := range Statuses {
		names[i] = string(st)
	}
	return "", fmt.Errorf("status %q is not one of %s", s, strings.Join(names, ", "))
}

// Closed reports whether the status needs no further fix: released, fixed
// already, not affected, or decided not to fix. A closed CVE is never overdue.
func (s Status) Closed() bool {
	switch s {
	case Released, AlreadyFixed, NotVulnerable, Ignored:
		return true
	}
	return false
}

// Justifications are CSAF's flag labels for known_not_affected.
var Justifications = []string{
	"component_not_present",
	"vulnerable_code_not_present",
	"vulnerable_code_cannot_be_controlled_by_adversary",
	"vulnerable_code_not_in_execute_path",
	"inline_mitigations_already_exist",
}

// Record is a CVE's state for one product.
type Record struct {
	CVE     string
	Product string
	Status  Status
	// Statement explains the status to the public; required for ignored
	// and not-vulnerable (it is the VEX impact statement).
	Statement string
	// Justification is the CSAF flag of a not-vulnerable record (optional;
	// one of Justifications).
	Justification string
	CVSS3         string  // v3.x vector
	CVSS4         string  // v4.0 vector
	Score         float64 // v3 base score, or v4 when there is no v3
	Published     string  // disclosure date YYYY-MM-DD ("" unknown)
	// Override is the vendor's decision against the policy (internal:
	// never shown on public pages or feeds).
	Override *Override
	// Packages names the affected packages (source or binary names), so
	// the tracker finds the CVE by package.
	Packages []string
	// Fixed lists advisories that fixed the CVE for this product, in
	// release order.
	Fixed   []string
	Updated time.Time
	Seq     int64 // set by the store
}

// Override is the vendor's own targeting decision with its reason.
type Override struct {
	Targeted bool
	Reason   string
}

// Change is one entry of a record's history.
type Change struct {
	CVE       string
	Product   string
	At        time.Time
	From      Status // "" when the record was created
	To        Status
	Statement string
	Source    string // "cve set", or the advisory that released the fix
	Seq       int64  // set by the store: orders every change, one by one
}

// SetScore fills Score from the vectors.
func (r *Record) SetScore() error {
	r.Score = 0
	if r.CVSS3 != "" {
		s, err := Score3(r.CVSS3)
		if err != nil {
			return err
		}
		r.Score = s
		if r.CVSS4 != "" {
			if _, err := Score4(r.CVSS4); err != nil {
				return err
			}
		}
		return nil
	}
	if r.CVSS4 != "" {
		s, err := Score4(r.CVSS4)
		if err != nil {
			return err
		}
		r.Score = s
	}
	return nil
}

// Check validates a record as `cve set` would store it.
func (r Record) Check() error {
	if !ValidCVE(r.CVE) {
		return fmt.Errorf("%q is not a CVE ID (CVE-YYYY-NNNN)", r.CVE)
	}
	if _, err := ParseStatus(string(r.Status)); err != nil {
		return err
	}
	if (r.Status == Ignored || r.Status == NotVulnerable) && strings.TrimSpace(r.Statement) == "" {
		return fmt.Errorf("status %s needs a statement saying why (--statement)", r.Status)
	}
	if r.Justification != "" {
		ok := false
		for _, j := range Justifications {
			ok = ok || j == r.Justification
		}
		if !ok {
			return fmt.Errorf("justification %q is not one of %s", r.Justification, strings.Join(Justifications, ", "))
		}
	}
	if r.Published != "" && !ValidDate(r.Published) {
		return fmt.Errorf("published %q is not a date YYYY-MM-DD", r.Published)
	}
	if r.Override != nil && strings.TrimSpace(r.Override.Reason) == "" {
		return fmt.Errorf("overriding the release decision needs a reason")
	}
	return nil
}

// VEX product status categories of CSAF.
const (
	VEXFixed              = "fixed"
	VEXKnownAffected      = "known_affected"
	VEXKnownNotAffected   = "known_not_affected"
	VEXUnderInvestigation = "under_investigation"
)

// VEX remediation categories used with known_affected.
const (
	RemedyNoFixPlanned  = "no_fix_planned" // ignored: will not fix
	RemedyNoneAvailable = "none_available" // a fix is planned but not out
)

// VEX maps a tracker status to a CSAF VEX product status and, for
// known_affected, the remediation category to state with it.
func VEX(s Status) (productStatus, remediation string) {
	switch s {
	case Released, AlreadyFixed:
		return VEXFixed, ""
	case NotVulnerable:
		return VEXKnownNotAffected, ""
	case Ignored:
		return VEXKnownAffected, RemedyNoFixPlanned
	case NeedsTriage, InResearch:
		return VEXUnderInvestigation, ""
	}
	// in-progress, in-testing, in-rollout: affected, fix planned.
	return VEXKnownAffected, RemedyNoneAvailable
}
