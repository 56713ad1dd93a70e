package scan

import (
	"os/exec"
	"strconv"
	"strings"
	"testing"
)

// The version orderings are checked against rpm and dpkg themselves: the
// want column documents the intent, the tools decide. The test fails
// rather than skips without them, since a scan that orders versions wrongly
// is worse than none.

type versionPair struct {
	a, b string
	want int
}

var rpmPairs = []versionPair{
	// rpm's own rpmvercmp tests.
	{"1.0", "1.0", 0},
	{"1.0", "2.0", -1},
	{"2.0", "1.0", 1},
	{"2.0.1", "2.0", 1},
	{"2.0", "2.0.1", -1},
	{"2.0.1a", "2.0.1a", 0},
	{"5.5p1", "5.5p2", -1},
	{"5.5p10", "5.5p1", 1},
	{"10xyz", "10.1xyz", -1},
	{"xyz10", "xyz10.1", -1},
	{"xyz.4", "8", -1},
	{"xyz.4", "2", -1},
	{"5.5p2", "5.6p1", -1},
	{"5.6p1", "6.5p1", -1},
	{"6.0.rc1", "6.0", 1},
	{"10b2", "10a1", 1},
	{"1.0aa", "1.0a", 1},
	{"10.0001", "10.1", 0},
	{"10.0001", "10.0039", -1},
	{"4.999.9", "5.0", -1},
	{"20101121", "20101122", -1},
	{"2_0", "2_0", 0},
	{"2.0", "2_0", 0},
	{"a", "b", -1},
	{"a+", "a_", 0},
	{"+_", "_+", 0},
	// Tilde: a pre-release sorts before the release.
	{"1.0~rc1", "1.0", -1},
	{"1.0~rc1", "1.0~rc2", -1},
	{"1.0~rc1~git123", "1.0~rc1", -1},
	{"1.0", "1.0~rc1", 1},
	{"1.0~~", "1.0~", -1},
	// Caret: a snapshot after a release sorts after it, before the next.
	{"1.0^", "1.0", 1},
	{"1.0^", "1.0.1", -1},
	{"1.0^git1", "1.0", 1},
	{"1.0^git1", "1.0^git2", -1},
	{"1.0^git1", "1.01", -1},
	{"1.0^20160101", "1.0.1", -1},
	{"1.0^20160102", "1.0^20160101^git1", 1},
	{"1.0~rc1^git1", "1.0~rc1", 1},
	{"1.0^git1~pre", "1.0^git1", -1},
	{"1.0~", "1.0^", -1},
	{"1.0^^", "1.0^", 1},
	// Epochs.
	{"1:1.0", "2.0", 1},
	{"0:1.0", "1.0", 0},
	{":1.0", "1.0", 0},
	{"2:1.0", "10:0.1", -1},
	{"1:3.0.7-28.el9", "1:3.0.7-27.el9_4", 1},
	{"1:3.0.7-28.el9", "3.0.7-29.el9", 1},
	// Releases, as real packages carry them.
	{"3.0.7-28.el9", "3.0.7-28.el9_4", -1},
	{"5.14.0-427.13.1.el9_4", "5.14.0-427.2.1.el9_4", 1},
	{"7.76.1-29.el9_4.1", "7.76.1-29.el9_4", 1},
	{"1.2.3-1.el8", "1.2.3-1.el9", -1},
	{"1.0", "1.0-1", -1},
	{"1.0-1", "1.0", 1},
	{"1.0-", "1.0", 1},
	{"1-2-3", "1-2.3", 1},
	{"1.0a", "1.0.a", 0},
	{"1.0", "1.0.", 0},
	{"010", "10", 0},
	{"1.a", "1.1", -1},
}

var debPairs = []versionPair{
	{"1.0", "1.0", 0},
	{"1.0", "1.1", -1},
	{"0.9", "0.10", -1},
	{"10", "9", 1},
	{"010", "10", 0},
	{"1.002", "1.2", 0},
	{"1.0.0", "1.0", 1},
	{"1.0", "1.0.0", -1},
	// Tilde sorts before everything, the end of the string included.
	{"1.0~rc1", "1.0", -1},
	{"1.0~~", "1.0~", -1},
	{"1.0~", "1.0", -1},
	{"1.0~a", "1.0~b", -1},
	{"1.0.0~beta1", "1.0.0~alpha1", 1},
	{"1:2.0~rc1-1", "1:2.0-1", -1},
	{"3.0.11-1~deb12u2", "3.0.11-1", -1},
	{"3.0.11-1~deb12u2", "3.0.11-1~deb12u1", 1},
	{"1.0-1~bpo12+1", "1.0-1", -1},
	{"1.0~dfsg-1", "1.0-1", -1},
	// Letters before other characters, the end before letters.
	{"1.2.3", "1.2.3a", -1},
	{"1.2.3a", "1.2.3+", -1},
	{"1.2.3+", "1.2.3.", -1},
	{"1.2.3.", "1.2.3~", 1},
	{"1.0a", "1.0A", 1},
	{"1.0", "1.0+b1", -1},
	{"1.0+dfsg-1", "1.0-1", 1},
	{"1.0+git20240101", "1.0+git20231231", 1},
	{"1.18.24ubuntu1", "1.18.24", 1},
	// Epochs.
	{"1:1.0", "2.0", 1},
	{"0:1.0", "1.0", 0},
	{"2:1.0", "10:0.1", -1},
	{"1:0", "0:999", 1},
	// Revisions.
	{"1.0-0", "1.0", 0},
	{"1.0-1", "1.0-1", 0},
	{"1.0-1", "1.0-1+b1", -1},
	{"1.0-1", "1.0-1ubuntu1", -1},
	{"1.0-1ubuntu1", "1.0-2", -1},
	{"1.0-a", "1.0-1", 1},
	{"4.19.0-26", "4.19.0-26.1", -1},
	{"1.0-1-1", "1.0-1", 1},
	{"1:1.0:1-1", "1:1.0.1-1", 1},
	// Real packages.
	{"2.36-9+deb12u4", "2.36-9+deb12u10", -1},
	{"7.88.1-10+deb12u5", "7.88.1-10+deb12u12", -1},
	{"2.35-0ubuntu3.6", "2.35-0ubuntu3.10", -1},
	{"5.15.0-105.115", "5.15.0-97.107", 1},
	{"3.0.13-1~deb12u1", "3.0.13-1~deb12u1+enmei1", -1},
	{"2.4.57-2", "2.4.57-2+enmei1", -1},
	// Numbers longer than any integer type.
	{"99999999999999999999", "99999999999999999998", 1},
	{"1.0-99999999999999999999", "1.0-100000000000000000000", -1},
}

func TestCompareRPMAgainstRPM(t *testing.T) {
	if len(rpmPairs) < 40 {
		t.Fatalf("only %d rpm pairs", len(rpmPairs))
	}
	if _, err := exec.LookPath("rpm"); err != nil {
		t.Fatalf("rpm is not installed; these tests use it as the oracle: install the Debian package rpm (apt-get install -y rpm)")
	}
	// One rpm run for the whole table, both ways round.
	var script strings.Builder
	script.WriteString("%{lua:")
	for _, p := range rpmPairs {
		for _, s := range []string{p.a, p.b} {
			if strings.ContainsAny(s, `"\`) {
				t.Fatalf("version %q cannot be quoted for Lua", s)
			}
		}
		script.WriteString(` print(rpm.vercmp("` + p.a + `", "` + p.b + `").."\n")`)
		script.WriteString(` print(rpm.vercmp("` + p.b + `", "` + p.a + `").."\n")`)
	}
	script.WriteString("}")
	out, err := exec.Command("rpm", "--eval", script.String()).CombinedOutput()
	if err != nil {
		t.Fatalf("rpm --eval: %v\n%s", err, out)
	}
	lines := strings.Fields(string(out))
	if len(lines) != 2*len(rpmPairs) {
		t.Fatalf("rpm printed %d results for %d comparisons:\n%s", len(lines), 2*len(rpmPairs), out)
	}
	for i, p := range rpmPairs {
		for k, pair := range [][2]string{{p.a, p.b}, {p.b, p.a}} {
			oracle, err := strconv.Atoi(lines[2*i+k])
			if err != nil {
				t.Fatalf("rpm printed %q", lines[2*i+k])
			}
			want := p.want
			if k == 1 {
				want = -want
			}
			if oracle != want {
				t.Errorf("rpm.vercmp(%q, %q) = %d, the table says %d", pair[0], pair[1], oracle, want)
			}
			if got := CompareRPM(pair[0], pair[1]); got != oracle {
				t.Errorf("CompareRPM(%q, %q) = %d, rpm says %d", pair[0], pair[1], got, oracle)
			}
			// Match compares the parts as packages carry them (an empty
			// release, "1.0-", cannot be told from none there).
			e1, v1, r1, has1 := parseRPMEVR(pair[0])
			e2, v2, r2, has2 := parseRPMEVR(pair[1])
			if (!has1 || r1 != "") && (!has2 || r2 != "") {
				if got := compareFields("rpm", e1, v1, r1, e2, v2, r2); got != oracle {
					t.Errorf("compareFields of %q, %q = %d, rpm says %d", pair[0], pair[1], got, oracle)
				}
			}
		}
	}
}

func TestCompareDebAgainstDpkg(t *testing.T) {
	if len(debPairs) < 40 {
		t.Fatalf("only %d deb pairs", len(debPairs))
	}
	if _, err := exec.LookPath("dpkg"); err != nil {
		t.Fatalf("dpkg is not installed; these tests use it as the oracle: install the Debian package dpkg (apt-get install -y dpkg)")
	}
	holds := func(a, op, b string) bool {
		out, err := exec.Command("dpkg", "--compare-versions", a, op, b).CombinedOutput()
		if len(out) > 0 {
			t.Fatalf("dpkg --compare-versions %s %s %s complained (the table must hold valid versions): %s", a, op, b, out)
		}
		if err == nil {
			return true
		}
		if ee, ok := err.(*exec.ExitError); ok && ee.ExitCode() == 1 {
			return false
		}
		t.Fatalf("dpkg --compare-versions %s %s %s: %v", a, op, b, err)
		return false
	}
	for _, p := range debPairs {
		oracle := 1
		switch {
		case holds(p.a, "lt", p.b):
			oracle = -1
		case holds(p.a, "eq", p.b):
			oracle = 0
		}
		if oracle != p.want {
			t.Errorf("dpkg orders %q against %q as %d, the table says %d", p.a, p.b, oracle, p.want)
		}
		if got := CompareDeb(p.a, p.b); got != oracle {
			t.Errorf("CompareDeb(%q, %q) = %d, dpkg says %d", p.a, p.b, got, oracle)
		}
		if got := CompareDeb(p.b, p.a); got != -oracle {
			t.Errorf("CompareDeb(%q, %q) = %d, dpkg says %d", p.b, p.a, got, -oracle)
		}
		// Packages carry a deb version as epoch and the rest.
		e1, u1, r1 := parseDebVersion(p.a)
		e2, u2, r2 := parseDebVersion(p.b)
		if got := compareFields("deb", e1, joinRelease(u1, r1), "", e2, joinRelease(u2, r2), ""); got != oracle {
			t.Errorf("compareFields of %q, %q = %d, dpkg says %d", p.a, p.b, got, oracle)
		}
	}
}

func BenchmarkCompareRPM(b *testing.B) {
	for b.Loop() {
		CompareRPM("1:3.0.7-27.el9_4.1", "1:3.0.7-28.el9^git1")
	}
}

func BenchmarkCompareDeb(b *testing.B) {
	for b.Loop() {
		CompareDeb("3.0.11-1~deb12u2", "3.0.11-1~deb12u2+enmei1")
	}
}
