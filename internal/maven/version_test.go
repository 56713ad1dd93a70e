package maven

import (
	"slices"
	"testing"
)

// The cases are Maven 3.9's ComparableVersionTest.

// checkOrder checks that each version sorts below every later one, both
// ways round.
func checkOrder(t *testing.T, versions ...string) {
	t.Helper()
	for i, lo := range versions {
		for _, hi := range versions[i+1:] {
			if c := CompareVersions(lo, hi); c != -1 {
				t.Errorf("CompareVersions(%q, %q) = %d, want -1", lo, hi, c)
			}
			if c := CompareVersions(hi, lo); c != 1 {
				t.Errorf("CompareVersions(%q, %q) = %d, want 1", hi, lo, c)
			}
		}
	}
}

func checkEqual(t *testing.T, a, b string) {
	t.Helper()
	if c := CompareVersions(a, b); c != 0 {
		t.Errorf("CompareVersions(%q, %q) = %d, want 0", a, b, c)
	}
	if c := CompareVersions(b, a); c != 0 {
		t.Errorf("CompareVersions(%q, %q) = %d, want 0", b, a, c)
	}
}

func TestCompareVersionsQualifiers(t *testing.T) {
	checkOrder(t, "1-alpha2snapshot", "1-alpha2", "1-alpha-123", "1-beta-2", "1-beta123", "1-m2", "1-m11",
		"1-rc", "1-cr2", "1-rc123", "1-SNAPSHOT", "1", "1-sp", "1-sp2", "1-sp123", "1-abc", "1-def", "1-pom-1",
		"1-1-snapshot", "1-1", "1-2", "1-123")
	checkOrder(t, "1-alpha", "1-beta", "1-milestone", "1-rc", "1-snapshot", "1", "1-sp")
}

func TestCompareVersionsNumbers(t *testing.T) {
	checkOrder(t, "2.0", "2.0.a", "2-1", "2.0.2", "2.0.123", "2.1.0", "2.1-a", "2.1b", "2.1-c", "2.1-1", "2.1.0.1",
		"2.2", "2.123", "11.a2", "11.a11", "11.b2", "11.b11", "11.m2", "11.m11", "11", "11.a", "11b", "11c", "11m")
}

func TestCompareVersionsEqual(t *testing.T) {
	for _, tc := range [][2]string{
		{"1", "1"}, {"1", "1.0"}, {"1", "1.0.0"}, {"1.0", "1.0.0"}, {"1", "1-0"}, {"1", "1.0-0"}, {"1.0", "1.0-0"},
		// no separator between number and character
		{"1a", "1-a"}, {"1a", "1.0-a"}, {"1a", "1.0.0-a"}, {"1.0a", "1-a"}, {"1.0.0a", "1-a"},
		{"1x", "1-x"}, {"1x", "1.0-x"}, {"1x", "1.0.0-x"}, {"1.0x", "1-x"}, {"1.0.0x", "1-x"},
		// aliases
		{"1ga", "1"}, {"1release", "1"}, {"1final", "1"}, {"1cr", "1rc"}, {"1.0.0.RELEASE", "1"},
		{"1.0-GA", "1.0"}, {"1.0.Final", "1.0.0"},
		// a, b and m followed by a digit
		{"1a1", "1-alpha-1"}, {"1b2", "1-beta-2"}, {"1m3", "1-milestone-3"},
		// case-insensitive
		{"1X", "1x"}, {"1A", "1a"}, {"1B", "1b"}, {"1M", "1m"}, {"1Ga", "1"}, {"1GA", "1"}, {"1RELEASE", "1"},
		{"1RELeaSE", "1"}, {"1Final", "1"}, {"1FINAL", "1"}, {"1Cr", "1Rc"}, {"1cR", "1rC"},
		{"1m3", "1Milestone3"}, {"1m3", "1MILESTONE3"}, {"1-abcdefghijklmnopqrstuvwxyz", "1-ABCDEFGHIJKLMNOPQRSTUVWXYZ"},
	} {
		checkEqual(t, tc[0], tc[1])
	}
}

func TestCompareVersionsPairs(t *testing.T) {
	for _, tc := range [][2]string{
		{"1", "2"}, {"1.5", "2"}, {"1", "2.5"}, {"1.0", "1.1"}, {"1.1", "1.2"}, {"1.0.0", "1.1"}, {"1.0.1", "1.1"},
		{"1.1", "1.2.0"}, {"1", "1.1"}, {"1.99", "2.0.0"}, {"1.9", "1.10"},
		{"1.0-alpha-1", "1.0"}, {"1.0-alpha-1", "1.0-alpha-2"}, {"1.0-alpha-1", "1.0-beta-1"},
		{"1.0-beta-1", "1.0-SNAPSHOT"}, {"1.0-SNAPSHOT", "1.0"}, {"1.0-alpha-1-SNAPSHOT", "1.0-alpha-1"},
		{"1.0-RC1", "1.0"}, {"1.0-RC1", "1.0-RC2"}, {"1.0-RC9", "1.0-RC10"},
		{"1.0", "1.0-1"}, {"1.0-1", "1.0-2"}, {"1.0.0", "1.0-1"},
		{"2.0-1", "2.0.1"}, {"2.0.1-klm", "2.0.1-lmn"}, {"2.0.1", "2.0.1-xyz"},
		{"2.0.1", "2.0.1-123"}, {"2.0.1-xyz", "2.0.1-123"},
		// leading zeros
		{"0.7", "2"}, {"0.2", "1.0.7"},
		// MNG-6964: qualifiers after -0.
		{"1-0.alpha", "1"}, {"1-0.beta", "1"}, {"1-0.alpha", "1-0.beta"},
	} {
		checkOrder(t, tc[0], tc[1])
	}
}

// MNG-5568: an order that used not to be transitive.
func TestCompareVersionsMNG5568(t *testing.T) {
	checkOrder(t, "6.1.0rc3", "6.1.0")
	checkOrder(t, "6.1.0rc3", "6.1H.5-beta")
	checkOrder(t, "6.1.0", "6.1H.5-beta")
}

// MNG-6572: numbers too big for an int, a long, or anything.
func TestCompareVersionsBigNumbers(t *testing.T) {
	checkOrder(t, "20190126.230843", "1234567890.12345", "123456789012345.1H.5-beta", "12345678901234567890.1H.5-beta")
	ones := []string{"1", "01", "001", "0000000001", "0000000000000000001", "00000000000000000000000000001"}
	zeros := []string{"0", "00", "000000000", "0000000000", "0000000000000000000", ""}
	for _, set := range [][]string{ones, zeros} {
		for _, a := range set {
			for _, b := range set {
				checkEqual(t, a, b)
			}
		}
	}
	checkOrder(t, "99999999999999999999.1", "100000000000000000000")
}

// MNG-7644: a qualifier after '.' sorts as one after '-'.
func TestCompareVersionsMNG7644(t *testing.T) {
	for _, x := range []string{"abc", "alpha", "a", "beta", "b", "def", "milestone", "m", "RC"} {
		checkOrder(t, "1.0.0."+x+"1", "1.0.0-"+x+"2")
		checkEqual(t, "2-"+x, "2.0."+x)
		checkEqual(t, "2-"+x, "2.0.0."+x)
		checkEqual(t, "2.0."+x, "2.0.0."+x)
	}
}

// Maven's order is not transitive: a qualifier sorts below any sub-list,
// even one that sorts below nothing. Fuzzing found this cycle; Maven 3.9's
// ComparableVersion has it too, and the port keeps it rather than order
// versions differently from Maven clients.
func TestCompareVersionsNotTransitive(t *testing.T) {
	checkOrder(t, "1-0a0", "1")
	checkOrder(t, "1", "1a")
	checkOrder(t, "1a", "1-0a0")
}

func TestSortVersions(t *testing.T) {
	got := []string{"1.10", "1.0", "1.0-SNAPSHOT", "1", "1.2-rc1", "1.2", "1.0.0", "1.9"}
	sortVersions(got)
	// 1, 1.0 and 1.0.0 are equal; their text breaks the tie.
	want := []string{"1.0-SNAPSHOT", "1", "1.0", "1.0.0", "1.2-rc1", "1.2", "1.9", "1.10"}
	if !slices.Equal(got, want) {
		t.Errorf("sortVersions = %q, want %q", got, want)
	}
}
