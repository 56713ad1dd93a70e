package support

import (
	"time"

	"github.com/enmei-project/enmei/internal/entitle"
	"github.com/enmei-project/enmei/internal/errs"
)

// NoticeLead is how far ahead planned maintenance must be announced, so
// that customers can plan around the window.
const NoticeLead = 7 * 24 * time.Hour

// CheckNoticeLead checks a maintenance notice made at now for the window
// [start, end): the window must not be empty, and planned maintenance must
// start at least NoticeLead after now. Emergency maintenance (a fix that
// cannot wait) is exempt from the lead.
func CheckNoticeLead(now, start, end time.Time, emergency bool) error {
	if !end.After(start) {
		return errs.E(errs.Invalid, "the maintenance end %s is not after its start %s", rfc3339(end), rfc3339(start))
	}
	earliest := now.Add(NoticeLead)
	if emergency || !start.Before(earliest) {
		return nil
	}
	// Round the earliest start up to the second printed, so that the time
	// the message suggests is itself accepted.
	if t := earliest.Truncate(time.Second); !t.Equal(earliest) {
		earliest = t.Add(time.Second)
	}
	return errs.E(errs.Invalid, "planned maintenance must be announced at least 7 days ahead: the start %s is too soon, the earliest allowed start is %s; use --emergency for emergency maintenance",
		rfc3339(start), rfc3339(earliest))
}

// rfc3339 formats t in Asia/Tokyo (+09:00), the zone customers read.
func rfc3339(t time.Time) string {
	return t.In(entitle.Tokyo).Format(time.RFC3339)
}
