package upgradepath

import (
	"reflect"
	"strings"
	"testing"

	"github.com/enmei-project/enmei/internal/api"
	"github.com/enmei-project/enmei/internal/errs"
)

// lifekeeper is the HA-cluster upgrade guide's rule: 9.6 directly from 9.4
// or 9.5, older versions through 9.4.
var lifekeeper = api.UpgradeRule{Product: "ha", Package: "lifekeeper", To: "9.6", From: []string{"9.4", "9.5"}, Via: "9.4", Latest: "9.6.1"}

func TestCheck(t *testing.T) {
	noVia := lifekeeper
	noVia.Via = ""
	noted := lifekeeper
	noted.Note = "a new licence is needed from 8.1."
	stale := lifekeeper
	stale.Latest = "9.5.3" // the repositories do not publish 9.6 yet
	unpublished := lifekeeper
	unpublished.Latest = ""
	evr := lifekeeper
	evr.Latest = "1:9.6.1-2.el9"
	onlyFrom94 := lifekeeper
	onlyFrom94.From = []string{"9.4"}
	for _, tt := range []struct {
		name      string
		rule      api.UpgradeRule
		installed string // "" not installed
		want      string // the refusal's message; "" none
		via       string
	}{
		{name: "older line: through the intermediate line", rule: lifekeeper, installed: "9.2.1",
			want: "lifekeeper 9.2.1 cannot be updated directly to 9.6.1 (only from 9.4 or 9.5): update to 9.4 first (enmei update -- lifekeeper-9.4*), then to 9.6", via: "9.4"},
		{name: "installed as an EVR", rule: lifekeeper, installed: "2:9.3.0-7.el9",
			want: "lifekeeper 9.3.0 cannot be updated directly to 9.6.1 (only from 9.4 or 9.5): update to 9.4 first (enmei update -- lifekeeper-9.4*), then to 9.6", via: "9.4"},
		{name: "older major", rule: lifekeeper, installed: "8.1.2-1",
			want: "lifekeeper 8.1.2 cannot be updated directly to 9.6.1 (only from 9.4 or 9.5): update to 9.4 first (enmei update -- lifekeeper-9.4*), then to 9.6", via: "9.4"},
		{name: "no direct path: reinstall", rule: noVia, installed: "9.2.1",
			want: "lifekeeper 9.2.1 cannot be updated to 9.6.1 (only from 9.4 or 9.5): a reinstall is needed, uninstall lifekeeper and install 9.6.1 afresh as the product's upgrade guide describes"},
		{name: "the note is added", rule: noted, installed: "8.1.0",
			want: "lifekeeper 8.1.0 cannot be updated directly to 9.6.1 (only from 9.4 or 9.5): update to 9.4 first (enmei update -- lifekeeper-9.4*), then to 9.6; a new licence is needed from 8.1", via: "9.4"},
		{name: "between the intermediate line and the target: reinstall, never a downgrade", rule: onlyFrom94, installed: "9.5.2",
			want: "lifekeeper 9.5.2 cannot be updated to 9.6.1 (only from 9.4): a reinstall is needed, uninstall lifekeeper and install 9.6.1 afresh as the product's upgrade guide describes"},
		{name: "latest as a full EVR", rule: evr, installed: "9.1",
			want: "lifekeeper 9.1 cannot be updated directly to 9.6.1 (only from 9.4 or 9.5): update to 9.4 first (enmei update -- lifekeeper-9.4*), then to 9.6", via: "9.4"},
		{name: "a from line", rule: lifekeeper, installed: "9.4.2-1"},
		{name: "the other from line", rule: lifekeeper, installed: "9.5"},
		{name: "the target line already", rule: lifekeeper, installed: "9.6.0"},
		{name: "newer than the target line", rule: lifekeeper, installed: "10.0.1"},
		{name: "9.40 is newer, not in 9.4", rule: lifekeeper, installed: "9.40.1"},
		{name: "not installed", rule: lifekeeper},
		{name: "target line not published yet", rule: stale, installed: "9.2.1"},
		{name: "package not published", rule: unpublished, installed: "9.2.1"},
		{name: "an installed version with no number", rule: lifekeeper, installed: "git-snapshot"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			installed := map[string]string{"other": "1.0"}
			if tt.installed != "" {
				installed["lifekeeper"] = tt.installed
			}
			got := Check([]api.UpgradeRule{tt.rule}, installed)
			if tt.want == "" {
				if len(got) != 0 {
					t.Fatalf("Check = %+v, want no refusal", got)
				}
				return
			}
			if len(got) != 1 {
				t.Fatalf("Check = %+v, want one refusal", got)
			}
			r := got[0]
			if r.Message != tt.want || r.Error() != tt.want {
				t.Errorf("message\n got %q\nwant %q", r.Message, tt.want)
			}
			if r.Package != "lifekeeper" || r.Target != "9.6.1" || r.To != "9.6" || r.Via != tt.via || r.Installed != VersionOf(tt.installed) {
				t.Errorf("refusal %+v", r)
			}
		})
	}
}

func TestCheckSeveralRules(t *testing.T) {
	other := api.UpgradeRule{Product: "ha", Package: "agent-kit", To: "2.0", From: []string{"1.9"}, Latest: "2.0.4"}
	// A rule for the line the repositories do not publish does not bite.
	old := api.UpgradeRule{Product: "ha", Package: "lifekeeper", To: "9.5", From: []string{"9.3"}, Latest: "9.6.1"}
	got := Check([]api.UpgradeRule{lifekeeper, other, old}, map[string]string{"lifekeeper": "9.2.1", "agent-kit": "1.2"})
	if len(got) != 2 || got[0].Package != "agent-kit" || got[1].Package != "lifekeeper" || got[1].To != "9.6" {
		t.Fatalf("Check = %+v, want agent-kit then lifekeeper (to 9.6)", got)
	}
	if !strings.Contains(got[0].Message, "a reinstall is needed") {
		t.Errorf("agent-kit: %s", got[0].Message)
	}
	if got := Check(nil, map[string]string{"lifekeeper": "9.2.1"}); got != nil {
		t.Errorf("Check(no rules) = %+v", got)
	}
}

func TestLines(t *testing.T) {
	for _, tt := range []struct {
		v, l   string
		in     bool
		c      int
		orders bool
	}{
		{"9.6", "9.6", true, 0, true},
		{"9.6.1", "9.6", true, 0, true},
		{"9.6~rc1", "9.6", true, 0, true},
		{"9.60", "9.6", false, 1, true},
		{"9.5.9", "9.6", false, -1, true},
		{"9", "9.6", false, -1, true},
		{"10", "9.6", false, 1, true},
		{"8.1.2", "9", false, -1, true},
		{"9.6rc1", "9.6", true, 0, true},
		{"9.06", "9.6", false, 0, true},
		{"abc", "9.6", false, 0, false},
		{"", "9.6", false, 0, false},
	} {
		if got := InLine(tt.v, tt.l); got != tt.in {
			t.Errorf("InLine(%q, %q) = %v", tt.v, tt.l, got)
		}
		if c, ok := CompareToLine(tt.v, tt.l); c != tt.c || ok != tt.orders {
			t.Errorf("CompareToLine(%q, %q) = %d, %v; want %d, %v", tt.v, tt.l, c, ok, tt.c, tt.orders)
		}
	}
	for in, want := range map[string]string{"1:9.6.1-2.el9": "9.6.1", "9.6.1": "9.6.1", "2.36-9+deb12u4": "2.36", "1:2.0": "2.0", " 9.4-1 ": "9.4"} {
		if got := VersionOf(in); got != want {
			t.Errorf("VersionOf(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestCheckRule(t *testing.T) {
	from, err := CheckRule("9.6", []string{"9.5", "9.4", "9.5"}, "9.4")
	if err != nil || !reflect.DeepEqual(from, []string{"9.4", "9.5"}) {
		t.Errorf("CheckRule = %v, %v; want 9.4, 9.5", from, err)
	}
	from, err = CheckRule("10.0", []string{"9.10", "9.9", "8"}, "")
	if err != nil || !reflect.DeepEqual(from, []string{"8", "9.9", "9.10"}) {
		t.Errorf("CheckRule(numeric order) = %v, %v", from, err)
	}
	for _, tt := range []struct {
		to   string
		from []string
		via  string
		want string
	}{
		{"9.x", []string{"9.4"}, "", `the target line "9.x" is not a version line like 9.6`},
		{"9.6", nil, "", "the rule names no line to update 9.6 from: give --from LINE,LINE or --previous-minors N"},
		{"9.6", []string{"9.4", "v9.5"}, "", `the from line "v9.5" is not a version line like 9.4`},
		{"9.6", []string{"9.7"}, "", "the from line 9.7 is newer than the target line 9.6: from lines must be older lines"},
		{"9.6", []string{"9.6"}, "", "the from line 9.6 overlaps the target line 9.6: from lines must be older lines"},
		{"9.6", []string{"9"}, "", "the from line 9 overlaps the target line 9.6: from lines must be older lines"},
		{"9.6", []string{"9.4", "9.4.1"}, "", "the from lines 9.4 and 9.4.1 overlap: name each line once"},
		{"9.6", []string{"9.4", "9.5"}, "9.3", "the intermediate line 9.3 is not one of the from lines (9.4, 9.5): an older version must be able to reach 9.6 from it"},
	} {
		_, err := CheckRule(tt.to, tt.from, tt.via)
		if !errs.Is(err, errs.Invalid) || err.Error() != tt.want {
			t.Errorf("CheckRule(%s, %v, %q) = %v, want %q", tt.to, tt.from, tt.via, err, tt.want)
		}
	}
}

func TestPreviousMinors(t *testing.T) {
	for _, tt := range []struct {
		to   string
		n    int
		want []string
		err  string
	}{
		{"9.6", 2, []string{"9.4", "9.5"}, ""},
		{"9.6", 1, []string{"9.5"}, ""},
		{"2.4.10", 3, []string{"2.4.7", "2.4.8", "2.4.9"}, ""},
		{"9.1", 1, []string{"9.0"}, ""},
		{"9.1", 2, nil, "line 9.1 has 1 previous minor lines, not 2: give a count from 1 to 1, or --from LINE,LINE"},
		{"9.6", 0, nil, "line 9.6 has 6 previous minor lines, not 0: give a count from 1 to 6, or --from LINE,LINE"},
		{"9", 1, nil, "the target line 9 has no minor number, so it has no previous minor lines: give --from LINE,LINE"},
	} {
		got, err := PreviousMinors(tt.to, tt.n)
		if tt.err != "" {
			if err == nil || err.Error() != tt.err {
				t.Errorf("PreviousMinors(%s, %d) = %v, %v; want %q", tt.to, tt.n, got, err, tt.err)
			}
			continue
		}
		if err != nil || !reflect.DeepEqual(got, tt.want) {
			t.Errorf("PreviousMinors(%s, %d) = %v, %v; want %v", tt.to, tt.n, got, err, tt.want)
		}
	}
}
