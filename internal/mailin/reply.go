package mailin

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"golang.org/x/text/width"
)

// tagRe matches a ticket tag after width folding, which turns full-width
// "［ＥＮＭ－Ｔ－０００１２３］" (typed with a Japanese IME) into ASCII;
// the lenticular brackets 【】 have no narrow form and are matched as they
// are.
var tagRe = regexp.MustCompile(`(?i)[\[【]\s*ENM-T-([0-9]{6,})\s*[\]】]`)

// Tag finds "[ENM-T-NNNNNN]" (6 or more digits; case-insensitive; also
// full-width brackets 【ENM-T-000123】 and surrounding "Re:", "RE:", "Fwd:",
// "返信:", "転送:" don't matter) in a subject and returns the number.
func Tag(subject string) (n int64, ok bool) {
	for _, m := range tagRe.FindAllStringSubmatch(width.Fold.String(subject), -1) {
		if n, err := strconv.ParseInt(m[1], 10, 64); err == nil {
			return n, true
		}
	}
	return 0, false
}

// FormatTag returns "ENM-T-000123" (zero-padded to 6 digits, more digits
// when larger).
func FormatTag(n int64) string {
	return fmt.Sprintf("ENM-T-%06d", n)
}

var (
	origMsgRe = regexp.MustCompile(`(?i)^-{2,}\s*(original message|元のメッセージ|オリジナル メッセージ)\s*-{2,}$`)
	wroteRe   = regexp.MustCompile(`(?i)(\bwrote\s*|書きました|書き込みました)[:：]$`)
	// Gmail in Japanese: "2026年12月1日(火) 10:00 山田太郎 <taro@example.jp>:";
	// Apple Mail: "2026/12/01 10:00、山田 太郎 <taro@example.jp>のメール:".
	addrColonRe = regexp.MustCompile(`@[^<>\s]*>\s*(のメール)?[:：]$`)
	// What an attribution that wraps over lines starts with.
	attribStartRe = regexp.MustCompile(`^(On\s|\d{4}[年/\-.]|\d{1,2}/\d{1,2}/\d{2,4})`)
	fromLineRe    = regexp.MustCompile(`(?i)^\*?(From|差出人|送信者)\*?\s*[:：]`)
	sentLineRe    = regexp.MustCompile(`(?i)^\*?(Sent|Date|送信日時|日付|日時)\*?\s*[:：]`)
	separatorRe   = regexp.MustCompile(`^(_{5,}|-{5,})$`)
	colonEndRe    = regexp.MustCompile(`[:：]$`)
)

// NewText returns the part of a reply body the sender wrote: it cuts at
// the first quoted-original marker — "On ... wrote:", "... <addr> wrote:",
// "-----Original Message-----", "-----元のメッセージ-----", a line
// "差出人:" / "From:" followed within 3 lines by "送信日時:"/"Sent:"/"Date:",
// "… さんは書きました:" / "…に…が書きました:" / "wrote:" endings in
// Japanese clients, and Gmail's and Apple Mail's Japanese "… <addr>:" —
// and drops the lines starting with ">": a quote that runs to the end of
// what is left (bottom quoting) is cut together with an attribution line
// just above it, and quoted lines between the sender's own lines
// (interleaved answers, common in Japanese business mail) are dropped
// while the answers are kept. Trailing blank lines are trimmed.
func NewText(body string) string {
	body = strings.ReplaceAll(body, "\r\n", "\n")
	body = strings.ReplaceAll(body, "\r", "\n")
	lines := strings.Split(body, "\n")
	lines = lines[:markerLine(lines)]

	// Bottom quote: the trailing run of quoted and blank lines.
	q := len(lines)
	for q > 0 && (isQuoted(lines[q-1]) || strings.TrimSpace(lines[q-1]) == "") {
		q--
	}
	hasQuote := false
	for _, l := range lines[q:] {
		hasQuote = hasQuote || isQuoted(l)
	}
	if hasQuote {
		lines = lines[:q]
		// An attribution no rule above knew, such as "2026/12/01 山田様:".
		if q > 0 {
			t := strings.TrimSpace(lines[q-1])
			if colonEndRe.MatchString(t) && (strings.Contains(t, "@") || attribStartRe.MatchString(t)) {
				lines = lines[:q-1]
			}
		}
	}

	out := lines[:0]
	for _, l := range lines {
		if !isQuoted(l) {
			out = append(out, l)
		}
	}
	for len(out) > 0 && strings.TrimSpace(out[len(out)-1]) == "" {
		out = out[:len(out)-1]
	}
	return strings.Join(out, "\n")
}

func isQuoted(l string) bool {
	return strings.HasPrefix(strings.TrimLeft(l, " \t"), ">")
}

// markerLine returns the index of the first line of the quoted original,
// or len(lines).
func markerLine(lines []string) int {
	trim := func(i int) string { return strings.TrimSpace(lines[i]) }
	for i := range lines {
		t := trim(i)
		// Every marker has a colon or starts with a dash: skip the
		// regular expressions for the other lines.
		if !strings.HasPrefix(t, "-") && !strings.ContainsAny(t, ":：") {
			continue
		}
		switch {
		case origMsgRe.MatchString(t):
			return i
		case wroteRe.MatchString(t):
			// Attributions wrap: "On Tue, Dec 1, 2026 at 10:00 Taro <" /
			// "taro@example.jp> wrote:".
			if k, ok := attribBegin(lines, i); ok {
				return k
			}
			return i
		case addrColonRe.MatchString(t):
			if k, ok := attribBegin(lines, i); ok {
				return k
			}
		case fromLineRe.MatchString(t):
			for k := i + 1; k < len(lines) && k <= i+3; k++ {
				if sentLineRe.MatchString(trim(k)) {
					// Outlook draws a rule above the header block.
					if i > 0 && separatorRe.MatchString(trim(i-1)) {
						return i - 1
					}
					return i
				}
			}
		}
	}
	return len(lines)
}

// attribBegin returns the first line, among line i and the up to two
// non-blank lines right above it, that starts like an attribution ("On ",
// a date).
func attribBegin(lines []string, i int) (int, bool) {
	k, ok := i, false
	for j := i; j >= 0 && j >= i-2 && strings.TrimSpace(lines[j]) != ""; j-- {
		if attribStartRe.MatchString(strings.TrimSpace(lines[j])) {
			k, ok = j, true
		}
	}
	return k, ok
}
