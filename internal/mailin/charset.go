package mailin

import (
	"bytes"
	"io"
	"strings"
	"unicode/utf8"

	"github.com/emersion/go-message"
	// Registers go-message's charset table (message.CharsetReader), used for
	// every charset that is not one of the Japanese ones below.
	_ "github.com/emersion/go-message/charset"
	"golang.org/x/text/encoding"
	"golang.org/x/text/encoding/japanese"
	"golang.org/x/text/transform"
)

// jaCharsets maps the labels Japanese mailers use, including the vendor
// aliases the IANA and WHATWG indexes lack (cp932, x-sjis, iso-2022-jp-ms,
// cp5022x), to the x/text decoders. x/text's ShiftJIS is the WHATWG
// Shift_JIS, which is Windows-31J (CP932) with the NEC and IBM extensions
// (①, ㈱, 髙), and its ISO-2022-JP and EUC-JP decode the same rows.
var jaCharsets = map[string]encoding.Encoding{
	"shift_jis":           japanese.ShiftJIS,
	"shift-jis":           japanese.ShiftJIS,
	"sjis":                japanese.ShiftJIS,
	"x-sjis":              japanese.ShiftJIS,
	"ms_kanji":            japanese.ShiftJIS,
	"csshiftjis":          japanese.ShiftJIS,
	"cp932":               japanese.ShiftJIS,
	"ms932":               japanese.ShiftJIS,
	"x-ms-cp932":          japanese.ShiftJIS,
	"windows-31j":         japanese.ShiftJIS,
	"cswindows31j":        japanese.ShiftJIS,
	"x-mac-japanese":      japanese.ShiftJIS,
	"iso-2022-jp":         japanese.ISO2022JP,
	"csiso2022jp":         japanese.ISO2022JP,
	"iso-2022-jp-1":       japanese.ISO2022JP,
	"iso-2022-jp-2":       japanese.ISO2022JP,
	"iso-2022-jp-3":       japanese.ISO2022JP,
	"iso-2022-jp-ms":      japanese.ISO2022JP,
	"cp50220":             japanese.ISO2022JP,
	"cp50221":             japanese.ISO2022JP,
	"cp50222":             japanese.ISO2022JP,
	"euc-jp":              japanese.EUCJP,
	"eucjp":               japanese.EUCJP,
	"x-euc-jp":            japanese.EUCJP,
	"x-eucjp":             japanese.EUCJP,
	"euc-jp-ms":           japanese.EUCJP,
	"eucjp-ms":            japanese.EUCJP,
	"cp51932":             japanese.EUCJP,
	"cseucpkdfmtjapanese": japanese.EUCJP,
}

// normLabel lower-cases a charset label and drops quotes and an RFC 2231
// language suffix ("iso-2022-jp*ja").
func normLabel(label string) string {
	label = strings.ToLower(strings.Trim(strings.TrimSpace(label), `"'`))
	if i := strings.IndexByte(label, '*'); i >= 0 {
		label = label[:i]
	}
	return label
}

// toUTF8 converts b from the charset label to valid UTF-8. It never fails:
// a missing, ASCII or UTF-8 label, an unknown label and a Japanese label on
// bytes that cannot be in that charset all fall back to guess, which keeps
// valid UTF-8 as it is and replaces what it cannot decode by U+FFFD.
func toUTF8(label string, b []byte) string {
	label = normLabel(label)
	switch label {
	case "", "utf-8", "utf8", "us-ascii", "ascii", "unknown-8bit", "x-unknown", "default":
		// Mislabelled mail is common: Japanese clients have sent
		// Shift_JIS as "us-ascii" or with no charset for decades.
		return guess(b)
	}
	if enc, ok := jaCharsets[label]; ok {
		if enc == japanese.ISO2022JP && has8bit(b) {
			// 8-bit bytes cannot be ISO-2022-JP: a mislabelled
			// Shift_JIS or UTF-8 body.
			return guess(b)
		}
		return decodeWith(enc, b)
	}
	if message.CharsetReader != nil {
		if r, err := message.CharsetReader(label, bytes.NewReader(b)); err == nil {
			out, err := io.ReadAll(r)
			if err == nil || len(out) > 0 {
				return strings.ToValidUTF8(string(out), "\uFFFD")
			}
		}
	}
	return guess(b)
}

// decodeWith decodes b with enc; x/text decoders replace invalid sequences
// by U+FFFD rather than failing.
func decodeWith(enc encoding.Encoding, b []byte) string {
	out, _, err := transform.Bytes(enc.NewDecoder(), b)
	if err != nil && len(out) == 0 {
		return strings.ToValidUTF8(string(b), "\uFFFD")
	}
	return strings.ToValidUTF8(string(out), "\uFFFD")
}

// guess decodes bytes of unknown charset: valid UTF-8 (which includes
// ASCII) stays as it is, 7-bit text with ISO-2022-JP escape sequences is
// ISO-2022-JP, and otherwise the most plausible of UTF-8, Shift_JIS and
// EUC-JP wins, UTF-8 with U+FFFD for invalid bytes on a tie.
func guess(b []byte) string {
	if utf8.Valid(b) && !isJIS(b) {
		return string(b)
	}
	if isJIS(b) && !has8bit(b) {
		return decodeWith(japanese.ISO2022JP, b)
	}
	best := strings.ToValidUTF8(string(b), "\uFFFD")
	bestScore := plausibility(best)
	for _, enc := range []encoding.Encoding{japanese.ShiftJIS, japanese.EUCJP} {
		s := decodeWith(enc, b)
		if sc := plausibility(s); sc > bestScore {
			best, bestScore = s, sc
		}
	}
	return best
}

// plausibility scores decoded text as Japanese: hiragana and Japanese
// punctuation are what real text is full of and what a wrong decoding
// rarely produces (UTF-8 read as Shift_JIS gives rare kanji, EUC-JP read as
// Shift_JIS gives half-width katakana); replacement characters count hard
// against.
func plausibility(s string) int {
	score := 0
	for _, r := range s {
		switch {
		case r == utf8.RuneError:
			score -= 20
		case r >= 0x3040 && r <= 0x30ff, r >= 0x3000 && r <= 0x303f, r >= 0xff01 && r <= 0xff5e:
			score += 2 // hiragana, katakana, CJK punctuation, full-width ASCII
		case r >= 0x4e00 && r <= 0x9fff:
			score++
		case r >= 0xff61 && r <= 0xff9f:
			score -= 2 // half-width katakana
		case r >= 0x80 && r < 0xa0:
			score -= 5 // C1 controls
		}
	}
	return score
}

// isJIS reports whether b holds an ISO-2022-JP designation (ESC $ @,
// ESC $ B, ESC ( J, ESC ( I).
func isJIS(b []byte) bool {
	for i := bytes.IndexByte(b, 0x1b); i >= 0 && i+2 < len(b); {
		switch string(b[i+1 : i+3]) {
		case "$@", "$B", "(J", "(I", "$(":
			return true
		}
		j := bytes.IndexByte(b[i+1:], 0x1b)
		if j < 0 {
			break
		}
		i += 1 + j
	}
	return false
}

func has8bit(b []byte) bool {
	for _, c := range b {
		if c >= 0x80 {
			return true
		}
	}
	return false
}

// charsetReader is a mime.WordDecoder CharsetReader that never fails, so
// that one encoded word in an odd charset does not make a whole address
// list unparseable.
func charsetReader(label string, r io.Reader) (io.Reader, error) {
	b, err := io.ReadAll(r)
	if err != nil {
		return nil, err
	}
	return strings.NewReader(toUTF8(label, b)), nil
}
