package support

import (
	"strings"
	"testing"

	"github.com/enmei-project/enmei/internal/errs"
)

func TestScope(t *testing.T) {
	for _, c := range []struct {
		level    int
		ja, en   string
		standard bool
	}{
		{0, "", "", false},
		{1, "導入支援", "installation guidance", true},
		{2, "運用支援", "operation", true},
		{3, "機能", "feature questions", true},
		{4, "障害解析", "fault analysis", true},
		{5, "ソース解析", "source analysis", false},
		{6, "ダンプ解析", "dump analysis", false},
		{7, "修正", "fix", false},
		{8, "性能", "performance", false},
		{9, "システム構築", "system building", false},
		{10, "開発", "development", false},
		{11, "", "", false},
		{-1, "", "", false},
	} {
		if got := ScopeName(c.level, "ja"); got != c.ja {
			t.Errorf("ScopeName(%d, ja) = %q, want %q", c.level, got, c.ja)
		}
		if got := ScopeName(c.level, "en"); got != c.en {
			t.Errorf("ScopeName(%d, en) = %q, want %q", c.level, got, c.en)
		}
		if got := InStandardScope(c.level); got != c.standard {
			t.Errorf("InStandardScope(%d) = %v, want %v", c.level, got, c.standard)
		}
		err := CheckScope(c.level)
		if valid := c.en != ""; valid != (err == nil) || err != nil && !errs.Is(err, errs.Invalid) {
			t.Errorf("CheckScope(%d) = %v, want valid %v", c.level, err, valid)
		}
	}
	if got := ScopeName(4, "fr"); got != "fault analysis" {
		t.Errorf("ScopeName(4, fr) = %q, want the English name", got)
	}
	if err := CheckScope(11); err == nil || !strings.Contains(err.Error(), "1 to 10") {
		t.Errorf("CheckScope(11) = %v, want the valid range named", err)
	}
}
