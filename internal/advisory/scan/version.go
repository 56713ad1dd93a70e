package scan

import "strings"

// The comparisons are ports of the package managers' own code rather than
// calls into github.com/knqyf263/go-rpm-version and go-deb-version. Both
// split and allocate with regular expressions on every call, and Match
// compares up to hundreds of thousands of pairs; go-rpm-version handles '~'
// and '^' but splits the release at the first '-' where rpm takes the last
// and cannot tell an empty release from none; go-deb-version rejects
// versions dpkg merely warns about and reads numeric runs into an int, so
// long ones (date stamps, snapshot counters) overflow and compare equal.
// The tests hold both ports to rpm and dpkg themselves.

// CompareRPM orders two rpm versions "[epoch:]version[-release]" as rpm
// 4.18's rpmverCmp does (rpm.vercmp in Lua): a missing epoch is 0, the
// release is what follows the last '-', and when only one side has a
// release that side is newer. It returns -1, 0 or +1.
func CompareRPM(a, b string) int {
	ea, va, ra, hasRA := parseRPMEVR(a)
	eb, vb, rb, hasRB := parseRPMEVR(b)
	if c := rpmvercmp(ea, eb); c != 0 {
		return c
	}
	if c := rpmvercmp(va, vb); c != 0 {
		return c
	}
	switch {
	case hasRA && hasRB:
		return rpmvercmp(ra, rb)
	case hasRA:
		return 1
	case hasRB:
		return -1
	}
	return 0
}

// parseRPMEVR splits an EVR as rpm's parseEVR does: an epoch is leading
// digits followed by ':' (an empty one is 0), the release follows the last
// '-'.
func parseRPMEVR(s string) (epoch, version, release string, hasRelease bool) {
	k := 0
	for k < len(s) && isDigit(s[k]) {
		k++
	}
	epoch, version = "0", s
	if k < len(s) && s[k] == ':' {
		if k > 0 {
			epoch = s[:k]
		}
		version = s[k+1:]
	}
	if d := strings.LastIndexByte(version, '-'); d >= 0 {
		return epoch, version[:d], version[d+1:], true
	}
	return epoch, version, "", false
}

// rpmvercmp is rpm's segment comparison (rpmio/rpmvercmp.c): runs of ASCII
// digits or letters are compared, separators skipped; digits beat letters;
// '~' sorts before anything, even the end of the string; '^' sorts after
// the end of the string but before anything else.
func rpmvercmp(a, b string) int {
	if a == b {
		return 0
	}
	i, j := 0, 0
	for i < len(a) || j < len(b) {
		for i < len(a) && !isAlnum(a[i]) && a[i] != '~' && a[i] != '^' {
			i++
		}
		for j < len(b) && !isAlnum(b[j]) && b[j] != '~' && b[j] != '^' {
			j++
		}
		ca, cb := byteAt(a, i), byteAt(b, j)
		if ca == '~' || cb == '~' {
			if ca != '~' {
				return 1
			}
			if cb != '~' {
				return -1
			}
			i++
			j++
			continue
		}
		if ca == '^' || cb == '^' {
			if i == len(a) {
				return -1
			}
			if j == len(b) {
				return 1
			}
			if ca != '^' {
				return 1
			}
			if cb != '^' {
				return -1
			}
			i++
			j++
			continue
		}
		if i == len(a) || j == len(b) {
			break
		}
		si, sj := i, j
		num := isDigit(a[i])
		if num {
			for i < len(a) && isDigit(a[i]) {
				i++
			}
			for j < len(b) && isDigit(b[j]) {
				j++
			}
		} else {
			for i < len(a) && isAlpha(a[i]) {
				i++
			}
			for j < len(b) && isAlpha(b[j]) {
				j++
			}
		}
		// a's segment is never empty; an empty one in b means the types
		// differ, and a number is newer than letters.
		if sj == j {
			if num {
				return 1
			}
			return -1
		}
		sa, sb := a[si:i], b[sj:j]
		if num {
			sa, sb = strings.TrimLeft(sa, "0"), strings.TrimLeft(sb, "0")
			if len(sa) != len(sb) {
				if len(sa) > len(sb) {
					return 1
				}
				return -1
			}
		}
		if c := strings.Compare(sa, sb); c != 0 {
			return c
		}
	}
	switch {
	case i >= len(a) && j >= len(b):
		return 0
	case i >= len(a):
		return -1
	}
	return 1
}

// CompareDeb orders two Debian versions "[epoch:]upstream[-revision]" as
// dpkg --compare-versions does. It returns -1, 0 or +1. Malformed versions
// are compared as well as they parse, never rejected: a host's or an
// advisory's version was accepted by dpkg or by advisory.Check already.
func CompareDeb(a, b string) int {
	ea, va, ra := parseDebVersion(a)
	eb, vb, rb := parseDebVersion(b)
	if c := compareDigits(ea, eb); c != 0 {
		return c
	}
	if c := verrevcmp(va, vb); c != 0 {
		return c
	}
	return verrevcmp(ra, rb)
}

// parseDebVersion splits a version as dpkg's parseversion does: the epoch
// is before the first ':', the revision after the last '-'.
func parseDebVersion(s string) (epoch, version, revision string) {
	s = strings.TrimSpace(s)
	epoch = "0"
	if c := strings.IndexByte(s, ':'); c > 0 && allDigits(s[:c]) {
		epoch, s = s[:c], s[c+1:]
	}
	if d := strings.LastIndexByte(s, '-'); d >= 0 {
		return epoch, s[:d], s[d+1:]
	}
	return epoch, s, ""
}

// compareDigits compares two decimal numbers of any length.
func compareDigits(a, b string) int {
	a, b = strings.TrimLeft(a, "0"), strings.TrimLeft(b, "0")
	if len(a) != len(b) {
		if len(a) > len(b) {
			return 1
		}
		return -1
	}
	return strings.Compare(a, b)
}

// debOrder is dpkg's character weight: '~' before the end of the string,
// the end before letters, letters before every other character.
func debOrder(c byte) int {
	switch {
	case isDigit(c):
		return 0
	case isAlpha(c):
		return int(c)
	case c == '~':
		return -1
	case c != 0:
		return int(c) + 256
	}
	return 0
}

// verrevcmp is dpkg's comparison of an upstream version or a revision
// (lib/dpkg/version.c): alternating non-digit runs, compared by debOrder,
// and digit runs, compared as numbers.
func verrevcmp(a, b string) int {
	i, j := 0, 0
	for i < len(a) || j < len(b) {
		firstDiff := 0
		for (i < len(a) && !isDigit(a[i])) || (j < len(b) && !isDigit(b[j])) {
			ac, bc := debOrder(byteAt(a, i)), debOrder(byteAt(b, j))
			if ac != bc {
				return sign(ac - bc)
			}
			// Equal weights here mean the same non-digit on both sides,
			// so neither index runs past its end.
			i++
			j++
		}
		for i < len(a) && a[i] == '0' {
			i++
		}
		for j < len(b) && b[j] == '0' {
			j++
		}
		for i < len(a) && j < len(b) && isDigit(a[i]) && isDigit(b[j]) {
			if firstDiff == 0 {
				firstDiff = int(a[i]) - int(b[j])
			}
			i++
			j++
		}
		if i < len(a) && isDigit(a[i]) {
			return 1
		}
		if j < len(b) && isDigit(b[j]) {
			return -1
		}
		if firstDiff != 0 {
			return sign(firstDiff)
		}
	}
	return 0
}

// compareFields orders two versions of a format ("rpm" or "deb") given as
// epoch, version and release, as CompareRPM and CompareDeb order the EVRs
// they make, without building the strings (Match compares hundreds of
// thousands). An rpm without a release has none; a deb's version carries
// its revision and its release is "".
func compareFields(format, e1, v1, r1, e2, v2, r2 string) int {
	if e1 == "" {
		e1 = "0"
	}
	if e2 == "" {
		e2 = "0"
	}
	if format == "deb" {
		if c := compareDigits(e1, e2); c != 0 {
			return c
		}
		// A deb's release, if one is given at all, is its revision.
		_, u1, rev1 := parseDebVersion(joinRelease(v1, r1))
		_, u2, rev2 := parseDebVersion(joinRelease(v2, r2))
		if c := verrevcmp(u1, u2); c != 0 {
			return c
		}
		return verrevcmp(rev1, rev2)
	}
	if c := rpmvercmp(e1, e2); c != 0 {
		return c
	}
	if c := rpmvercmp(v1, v2); c != 0 {
		return c
	}
	switch {
	case r1 != "" && r2 != "":
		return rpmvercmp(r1, r2)
	case r1 != "":
		return 1
	case r2 != "":
		return -1
	}
	return 0
}

// joinRelease is v-r, or v when r is "" (without allocating then).
func joinRelease(v, r string) string {
	if r == "" {
		return v
	}
	return v + "-" + r
}

func byteAt(s string, i int) byte {
	if i < len(s) {
		return s[i]
	}
	return 0
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }
func isAlpha(c byte) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }
func isAlnum(c byte) bool { return isDigit(c) || isAlpha(c) }

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if !isDigit(s[i]) {
			return false
		}
	}
	return true
}

func sign(n int) int {
	switch {
	case n < 0:
		return -1
	case n > 0:
		return 1
	}
	return 0
}
