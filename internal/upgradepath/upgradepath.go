// Package upgradepath decides whether an installed package may be updated
// across version lines, from the rules a product declares with enmeid
// product upgrade-path: an HA-cluster upgrade guide's "9.6.1 can be reached
// directly from 9.4.x or 9.5.x; older versions update to 9.4 first or are
// reinstalled" becomes data instead of prose the customer must remember.
// It does no I/O, so the agent (enmei preflight, enmei update), the server
// and the admin commands share one definition of a line, of a valid rule and
// of the sentence that refuses an update.
package upgradepath

import (
	"cmp"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/enmei-project/enmei/internal/api"
	"github.com/enmei-project/enmei/internal/errs"
)

// lineShape is a version line: one to four dot-separated numbers.
var lineShape = regexp.MustCompile(`^[0-9]{1,9}(\.[0-9]{1,9}){0,3}$`)

// ValidLine reports whether s is a version line such as "9", "9.6" or "2.4.1".
func ValidLine(s string) bool { return lineShape.MatchString(s) }

// VersionOf is the version alone of an [epoch:]version[-release] string
// (rpm EVR or Debian version): "1:9.6.1-2.el9" → "9.6.1". Lines are matched
// against it, since a release never changes the line.
func VersionOf(evr string) string {
	v := strings.TrimSpace(evr)
	if i := strings.IndexByte(v, ':'); i >= 0 && allDigits(v[:i]) {
		v = v[i+1:]
	}
	if i := strings.LastIndexByte(v, '-'); i >= 0 {
		v = v[:i]
	}
	return v
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// InLine reports whether version v (without epoch or release) is in line
// l: v is l, or starts with l followed by a character that is not a digit
// ("9.4.2", "9.4~rc1" are in 9.4; "9.40" is not).
func InLine(v, l string) bool {
	if !strings.HasPrefix(v, l) || l == "" {
		return false
	}
	return len(v) == len(l) || v[len(l)] < '0' || v[len(l)] > '9'
}

// CompareToLine orders version v (without epoch or release) against line
// l: -1 older than every version of the line, 0 in it, +1 newer. ok is
// false when v does not start with a number, so no order can be told.
func CompareToLine(v, l string) (c int, ok bool) {
	if InLine(v, l) {
		return 0, true
	}
	vs, ls := numbers(v), numbers(l)
	if len(vs) == 0 || len(ls) == 0 {
		return 0, false
	}
	for i, n := range ls {
		if i >= len(vs) {
			// v is a shorter prefix of l ("9" against "9.6"): older.
			return -1, true
		}
		if c := cmp.Compare(vs[i], n); c != 0 {
			return c, true
		}
	}
	// Equal on every number of l but not in the line ("9.06" against
	// "9.6"): call it in the line rather than guess an order.
	return 0, true
}

// numbers are the leading numbers of a version's dot-separated parts,
// up to the first part that does not start with a digit ("9.4rc1.2" →
// 9, 4). Numbers too large for an int64 stop the list.
func numbers(v string) []int64 {
	var out []int64
	for _, part := range strings.Split(v, ".") {
		end := 0
		for end < len(part) && part[end] >= '0' && part[end] <= '9' {
			end++
		}
		if end == 0 {
			break
		}
		n, err := strconv.ParseInt(part[:end], 10, 64)
		if err != nil {
			break
		}
		out = append(out, n)
		if end < len(part) {
			break
		}
	}
	return out
}

// compareLines orders two valid lines; overlap is true when one contains
// the other ("9" and "9.6", or equal lines).
func compareLines(a, b string) (c int, overlap bool) {
	as, bs := numbers(a), numbers(b)
	for i := 0; i < min(len(as), len(bs)); i++ {
		if c := cmp.Compare(as[i], bs[i]); c != 0 {
			return c, false
		}
	}
	return cmp.Compare(len(as), len(bs)), true
}

// CompareLines orders two lines by their numbers (9.9 before 9.10); a line
// sorts before the lines it holds (9 before 9.6).
func CompareLines(a, b string) int {
	c, _ := compareLines(a, b)
	return c
}

// SortLines sorts lines oldest first.
func SortLines(lines []string) { slices.SortFunc(lines, CompareLines) }

// CheckRule validates a rule's lines: to and every from line are lines,
// each from line is older than to and holds no other, via is one of from
// (or ""). from is returned sorted oldest first without duplicates. Errors
// are errs.Invalid, one sentence each.
func CheckRule(to string, from []string, via string) ([]string, error) {
	if !ValidLine(to) {
		return nil, errs.E(errs.Invalid, "the target line %q is not a version line like 9.6", to)
	}
	if len(from) == 0 {
		return nil, errs.E(errs.Invalid, "the rule names no line to update %s from: give --from LINE,LINE or --previous-minors N", to)
	}
	var out []string
	for _, f := range from {
		f = strings.TrimSpace(f)
		if !ValidLine(f) {
			return nil, errs.E(errs.Invalid, "the from line %q is not a version line like 9.4", f)
		}
		if c, overlap := compareLines(f, to); overlap {
			return nil, errs.E(errs.Invalid, "the from line %s overlaps the target line %s: from lines must be older lines", f, to)
		} else if c > 0 {
			return nil, errs.E(errs.Invalid, "the from line %s is newer than the target line %s: from lines must be older lines", f, to)
		}
		for _, o := range out {
			if _, overlap := compareLines(f, o); overlap && f != o {
				return nil, errs.E(errs.Invalid, "the from lines %s and %s overlap: name each line once", o, f)
			}
		}
		if !slices.Contains(out, f) {
			out = append(out, f)
		}
	}
	SortLines(out)
	if via != "" && !slices.Contains(out, via) {
		return nil, errs.E(errs.Invalid, "the intermediate line %s is not one of the from lines (%s): an older version must be able to reach %s from it", via, strings.Join(out, ", "), to)
	}
	return out, nil
}

// PreviousMinors are the n minor lines before to, oldest first: 9.6 and 2
// give 9.4 and 9.5 (the upgrade guide's "the two previous minor lines").
func PreviousMinors(to string, n int) ([]string, error) {
	if !ValidLine(to) {
		return nil, errs.E(errs.Invalid, "the target line %q is not a version line like 9.6", to)
	}
	i := strings.LastIndexByte(to, '.')
	if i < 0 {
		return nil, errs.E(errs.Invalid, "the target line %s has no minor number, so it has no previous minor lines: give --from LINE,LINE", to)
	}
	minor, _ := strconv.Atoi(to[i+1:])
	if n < 1 || n > minor {
		return nil, errs.E(errs.Invalid, "line %s has %d previous minor lines, not %d: give a count from 1 to %d, or --from LINE,LINE", to, minor, n, minor)
	}
	var out []string
	for m := minor - n; m < minor; m++ {
		out = append(out, to[:i+1]+strconv.Itoa(m))
	}
	return out, nil
}

// Refusal is an update a rule forbids: the installed version is older than
// the target line and in none of the lines updated directly to it.
type Refusal struct {
	Package   string `json:"package"`
	Installed string `json:"installed"` // the version alone
	Target    string `json:"target"`    // the newest version of the target line published (the rule's Latest)
	To        string `json:"to"`        // the target line
	// Via is the line to update to first; "" when the package must be
	// uninstalled and installed afresh.
	Via string `json:"via,omitempty"`
	// Message is the one sentence to show: what is refused and what to do.
	Message string `json:"message"`
}

// Error makes a Refusal usable as an error.
func (r Refusal) Error() string { return r.Message }

// Check returns the updates the rules refuse, by package name. installed
// maps a package name to its installed version ([epoch:]version[-release]
// or the version alone). A rule bites only when the package is installed,
// the repositories publish a version in its target line (Latest), and the
// installed version is older than that line and in none of its from lines.
func Check(rules []api.UpgradeRule, installed map[string]string) []Refusal {
	var out []Refusal
	for _, r := range rules {
		evr, ok := installed[r.Package]
		if !ok || evr == "" {
			continue
		}
		latest := VersionOf(r.Latest)
		if latest == "" || !InLine(latest, r.To) {
			continue
		}
		cur := VersionOf(evr)
		if c, ok := CompareToLine(cur, r.To); !ok || c >= 0 {
			continue
		}
		if slices.ContainsFunc(r.From, func(l string) bool { return InLine(cur, l) }) {
			continue
		}
		ref := Refusal{Package: r.Package, Installed: cur, Target: latest, To: r.To}
		only := orList(r.From)
		if c, ok := CompareToLine(cur, r.Via); r.Via != "" && ok && c < 0 {
			ref.Via = r.Via
			ref.Message = fmt.Sprintf("%s %s cannot be updated directly to %s (only from %s): update to %s first (enmei update -- %s-%s*), then to %s",
				r.Package, cur, latest, only, r.Via, r.Package, r.Via, r.To)
		} else {
			ref.Message = fmt.Sprintf("%s %s cannot be updated to %s (only from %s): a reinstall is needed, uninstall %s and install %s afresh as the product's upgrade guide describes",
				r.Package, cur, latest, only, r.Package, latest)
		}
		if note := strings.TrimRight(strings.TrimSpace(r.Note), "."); note != "" {
			ref.Message += "; " + note
		}
		out = append(out, ref)
	}
	slices.SortFunc(out, func(a, b Refusal) int { return cmp.Compare(a.Package, b.Package) })
	return out
}

// orList writes lines as "9.4", "9.4 or 9.5", "9.3, 9.4 or 9.5".
func orList(lines []string) string {
	switch len(lines) {
	case 0:
		return "no line"
	case 1:
		return lines[0]
	}
	return strings.Join(lines[:len(lines)-1], ", ") + " or " + lines[len(lines)-1]
}
