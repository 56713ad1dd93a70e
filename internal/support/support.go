// Package support holds the pure business rules of the vendor's technical
// support desk: support hours and the time they count towards a target,
// contract years and the inquiry allowance, the order in which open tickets
// are investigated, technical contact changes, maintenance notices (their
// lead time and recurrence) and the scope levels of a ticket.
//
// Everything is a pure function of its arguments: no I/O and no clock (the
// caller passes now). Days and hours are meant in Asia/Tokyo, and business
// days are those of a bizcal.Calendar.
package support

import (
	"github.com/enmei-project/enmei/internal/errs"
)

// Scope levels of a ticket: what the customer asks the vendor to do, from
// guidance (1) to development (10). Standard support covers 1–4; the rest
// is quoted separately.
const (
	scopeMin      = 1
	scopeMax      = 10
	scopeStandard = 4 // the last level standard support covers
)

var scopeNames = [scopeMax + 1][2]string{
	1:  {"導入支援", "installation guidance"},
	2:  {"運用支援", "operation"},
	3:  {"機能", "feature questions"},
	4:  {"障害解析", "fault analysis"},
	5:  {"ソース解析", "source analysis"},
	6:  {"ダンプ解析", "dump analysis"},
	7:  {"修正", "fix"},
	8:  {"性能", "performance"},
	9:  {"システム構築", "system building"},
	10: {"開発", "development"},
}

// ScopeName is the name of a scope level in lang ("ja", else English), or
// "" for a level outside 1–10.
func ScopeName(level int, lang string) string {
	if level < scopeMin || level > scopeMax {
		return ""
	}
	if lang == "ja" {
		return scopeNames[level][0]
	}
	return scopeNames[level][1]
}

// InStandardScope reports whether standard support covers the level.
func InStandardScope(level int) bool {
	return level >= scopeMin && level <= scopeStandard
}

// CheckScope refuses a level outside 1–10.
func CheckScope(level int) error {
	if level < scopeMin || level > scopeMax {
		return errs.E(errs.Invalid, "scope level %d is not valid: use 1 to 10 (1–4, %s to %s, are standard support)",
			level, ScopeName(scopeMin, "en"), ScopeName(scopeStandard, "en"))
	}
	return nil
}
