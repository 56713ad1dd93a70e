package maven

import (
	"cmp"
	"slices"
	"strings"
)

// CompareVersions orders Maven versions as Maven 3.9's ComparableVersion
// does, returning -1, 0 or +1. The version is split into items at '.',
// '-' and transitions between digits and letters; a '-' (or a letter
// after '.') opens a sub-list, which sorts below a number. Numbers compare
// numerically, and trailing zeros are insignificant: 1 == 1.0 == 1-0.
// Qualifiers, case-insensitive, order as
//
//	alpha (a1) < beta (b1) < milestone (m1) < rc = cr < snapshot < "" = ga = final = release < sp
//
// and unknown qualifiers after sp, lexically. Like Maven's, the order is
// not transitive for some odd versions (1a > 1 > 1-0a0 > 1a). Unlike
// Java, only ASCII digits are digits, and leading zeros never change a
// number's type (Java sorts 0000000000.1 above 0.1).
func CompareVersions(a, b string) int {
	return compareItems(parseVersion(a), parseVersion(b))
}

type itemKind uint8

const (
	numberItem itemKind = iota
	stringItem
	listItem
)

// item is one parsed element of a version.
type item struct {
	kind itemKind
	s    string  // a number's digits without leading zeros, or a qualifier
	list []*item // a list's items
}

func (it *item) isNull() bool {
	switch it.kind {
	case numberItem:
		return it.s == "0"
	case stringItem:
		return it.s == ""
	}
	return len(it.list) == 0
}

// qualifiers are the known qualifiers in order; "" is a release.
var qualifiers = []string{"alpha", "beta", "milestone", "rc", "snapshot", "", "sp"}

func qualifierRank(q string) int {
	if i := slices.Index(qualifiers, q); i >= 0 {
		return i
	}
	return len(qualifiers)
}

func compareQualifiers(a, b string) int {
	ra, rb := qualifierRank(a), qualifierRank(b)
	if ra != rb || ra < len(qualifiers) {
		return cmp.Compare(ra, rb)
	}
	return strings.Compare(a, b)
}

func newString(s string, followedByDigit bool) *item {
	if followedByDigit && len(s) == 1 {
		// a1 = alpha-1, b1 = beta-1, m1 = milestone-1
		switch s {
		case "a":
			s = "alpha"
		case "b":
			s = "beta"
		case "m":
			s = "milestone"
		}
	}
	switch s {
	case "ga", "final", "release":
		s = ""
	case "cr":
		s = "rc"
	}
	return &item{kind: stringItem, s: s}
}

func newItem(number bool, s string) *item {
	if !number {
		return newString(s, false)
	}
	s = strings.TrimLeft(s, "0")
	if s == "" {
		s = "0"
	}
	return &item{kind: numberItem, s: s}
}

// parseVersion follows ComparableVersion.parseVersion.
func parseVersion(v string) *item {
	v = strings.ToLower(v)
	root := &item{kind: listItem}
	list := root
	stack := []*item{root}
	add := func(it *item) { list.list = append(list.list, it) }
	sublist := func() {
		sub := &item{kind: listItem}
		add(sub)
		list = sub
		stack = append(stack, sub)
	}
	digits := false
	start := 0
	for i := 0; i < len(v); i++ {
		switch c := v[i]; {
		case c == '.' || c == '-':
			if i == start {
				add(newItem(true, "0"))
			} else {
				add(newItem(digits, v[start:i]))
			}
			start = i + 1
			if c == '-' {
				sublist()
			}
		case isDigit(c):
			if !digits && i > start {
				// 1.0.0.X1 < 1.0.0-X2: a qualifier after '.' opens a
				// sub-list as one after '-' does.
				if len(list.list) > 0 {
					sublist()
				}
				add(newString(v[start:i], true))
				start = i
				sublist()
			}
			digits = true
		default:
			if digits && i > start {
				add(newItem(true, v[start:i]))
				start = i
				sublist()
			}
			digits = false
		}
	}
	if len(v) > start {
		if !digits && len(list.list) > 0 {
			sublist()
		}
		add(newItem(digits, v[start:]))
	}
	// Innermost first, as each list's trailing empty sub-list must be gone
	// before its parent looks at it.
	for i := len(stack) - 1; i >= 0; i-- {
		stack[i].normalize()
	}
	return root
}

// normalize drops null items (0, "", empty lists) at the end of the list
// and before its trailing sub-lists: 1.0-alpha is 1-alpha.
func (it *item) normalize() {
	for i := len(it.list) - 1; i >= 0; i-- {
		switch e := it.list[i]; {
		case e.isNull():
			it.list = slices.Delete(it.list, i, i+1)
		case e.kind != listItem:
			return
		}
	}
}

// compareItems compares a with b, which may be nil: a missing item, as in
// 1 against 1.1.
func compareItems(a, b *item) int {
	switch a.kind {
	case numberItem:
		switch {
		case b == nil:
			return boolSign(!a.isNull()) // 1.0 == 1, 1.1 > 1
		case b.kind == numberItem:
			return cmp.Or(cmp.Compare(len(a.s), len(b.s)), strings.Compare(a.s, b.s))
		}
		return 1 // 1.1 > 1-sp, 1.1 > 1-1
	case stringItem:
		switch {
		case b == nil:
			return compareQualifiers(a.s, "") // 1-rc < 1, 1-sp > 1
		case b.kind == stringItem:
			return compareQualifiers(a.s, b.s)
		}
		return -1 // 1.any < 1.1, 1.any < 1-1
	}
	switch {
	case b == nil:
		for _, e := range a.list {
			if c := compareItems(e, nil); c != 0 {
				return c
			}
		}
		return 0
	case b.kind == numberItem:
		return -1 // 1-1 < 1.0.x
	case b.kind == stringItem:
		return 1 // 1-1 > 1-sp
	}
	for i := range max(len(a.list), len(b.list)) {
		var c int
		switch {
		case i >= len(a.list):
			c = -compareItems(b.list[i], nil)
		case i >= len(b.list):
			c = compareItems(a.list[i], nil)
		default:
			c = compareItems(a.list[i], b.list[i])
		}
		if c != 0 {
			return c
		}
	}
	return 0
}

func boolSign(b bool) int {
	if b {
		return 1
	}
	return 0
}

// sortVersions sorts versions in Maven order, and equal ones (1.0 and 1)
// by their text so that the order never depends on the input's.
func sortVersions(versions []string) {
	keys := make(map[string]*item, len(versions))
	for _, v := range versions {
		keys[v] = parseVersion(v)
	}
	slices.Sort(versions)
	slices.SortStableFunc(versions, func(a, b string) int {
		return compareItems(keys[a], keys[b])
	})
}
