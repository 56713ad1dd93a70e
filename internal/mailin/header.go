package mailin

import (
	"encoding/base64"
	"mime"
	netmail "net/mail"
	"net/url"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/emersion/go-message/mail"
	"golang.org/x/text/unicode/norm"
)

var encodedWordRe = regexp.MustCompile(`=\?([^?\s]+)\?([bBqQ])\?([^?\s]*)\?=`)

// decodeHeader decodes an unstructured header value (Subject, a display
// name, a file name) to UTF-8. Beyond what mime.WordDecoder does, it
// joins adjacent encoded words of one charset before converting them, as
// mailers split UTF-8 and Shift_JIS words in the middle of a character;
// decodes encoded words that are not delimited by white space or sit in
// quotes; never fails on an unknown charset; and guesses the charset of raw
// 8-bit or ISO-2022-JP bytes outside encoded words.
func decodeHeader(s string) string {
	if !utf8.ValidString(s) || strings.IndexByte(s, 0x1b) >= 0 {
		s = guess([]byte(s))
	}
	var b strings.Builder
	var pend []byte
	pendCharset, inWord := "", false
	flush := func() {
		if inWord {
			b.WriteString(toUTF8(pendCharset, pend))
		}
		pend, inWord = pend[:0], false
	}
	last := 0
	for _, m := range encodedWordRe.FindAllStringSubmatchIndex(s, -1) {
		between := s[last:m[0]]
		// RFC 2047: white space between adjacent encoded words is dropped.
		if !inWord || strings.TrimSpace(between) != "" {
			flush()
			b.WriteString(between)
		}
		cs := normLabel(s[m[2]:m[3]])
		if inWord && cs != pendCharset {
			flush()
		}
		text := s[m[6]:m[7]]
		if s[m[4]] == 'b' || s[m[4]] == 'B' {
			pend = append(pend, decodeBase64([]byte(text))...)
		} else {
			pend = append(pend, decodeQ(text)...)
		}
		pendCharset, inWord = cs, true
		last = m[1]
	}
	flush()
	b.WriteString(s[last:])
	return cleanLine(b.String())
}

// cleanLine turns line breaks and tabs into spaces and drops other control
// characters (NUL, which PostgreSQL text refuses, among them).
func cleanLine(s string) string {
	s = strings.Map(func(r rune) rune {
		switch {
		case r == '\r' || r == '\n' || r == '\t':
			return ' '
		case r < 0x20 || r == 0x7f:
			return -1
		}
		return r
	}, s)
	return strings.TrimSpace(s)
}

// decodeBase64 decodes base64 leniently: it skips white space and other
// bytes outside the alphabet, does not need padding, and returns what it
// could decode before an error.
func decodeBase64(src []byte) []byte {
	clean := make([]byte, 0, len(src))
	for _, c := range src {
		if isBase64(c) {
			clean = append(clean, c)
		}
	}
	if len(clean)%4 == 1 {
		clean = clean[:len(clean)-1]
	}
	out := make([]byte, base64.RawStdEncoding.DecodedLen(len(clean)))
	n, _ := base64.RawStdEncoding.Decode(out, clean)
	return out[:n]
}

func isBase64(c byte) bool {
	return 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '+' || c == '/'
}

// decodeQ decodes the RFC 2047 Q encoding; a malformed escape stays as it
// is.
func decodeQ(s string) []byte {
	out := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '_':
			out = append(out, ' ')
		case c == '=' && i+2 < len(s) && isHex(s[i+1]) && isHex(s[i+2]):
			v, _ := strconv.ParseUint(s[i+1:i+3], 16, 8)
			out = append(out, byte(v))
			i += 2
		default:
			out = append(out, c)
		}
	}
	return out
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

// parseParams parses a header value with parameters (Content-Type,
// Content-Disposition) into its lower-cased value and parameters with
// lower-cased names. Unlike mime.ParseMediaType it never fails: it accepts
// unquoted values with spaces and specials, stray semicolons and
// duplicates (the first wins), and decodes RFC 2231 values and
// continuations in any charset, not only UTF-8 (Japanese Thunderbird sends
// filename*=ISO-2022-JP”...).
func parseParams(v string) (string, map[string]string) {
	segs := splitParams(v)
	value := strings.ToLower(strings.TrimSpace(segs[0]))
	params := make(map[string]string)
	type piece struct {
		n       int
		encoded bool
		v       string
	}
	ext := make(map[string][]piece) // RFC 2231 pieces by parameter name
	for _, seg := range segs[1:] {
		k, val, ok := strings.Cut(seg, "=")
		if !ok {
			continue
		}
		k = strings.ToLower(strings.TrimSpace(k))
		val = unquote(strings.TrimSpace(val))
		if k == "" {
			continue
		}
		if name, rest, star := strings.Cut(k, "*"); star {
			// "name*" is one encoded section, "name*N" a plain and
			// "name*N*" an encoded one.
			p := piece{encoded: rest == "" || strings.HasSuffix(rest, "*"), v: val}
			if num := strings.TrimSuffix(rest, "*"); num != "" {
				n, err := strconv.Atoi(num)
				if err != nil || n < 0 || n > 999 {
					continue
				}
				p.n = n
			}
			ext[name] = append(ext[name], p)
			continue
		}
		if _, dup := params[k]; !dup {
			params[k] = val
		}
	}
	for name, pieces := range ext {
		sort.SliceStable(pieces, func(i, j int) bool { return pieces[i].n < pieces[j].n })
		var raw []byte
		charset := ""
		for i, p := range pieces {
			if i > 0 && p.n == pieces[i-1].n {
				continue // duplicate section
			}
			s := p.v
			if p.encoded {
				if i == 0 {
					// charset'language'value
					if cs, rest, ok := strings.Cut(s, "'"); ok {
						charset = cs
						if _, rest2, ok := strings.Cut(rest, "'"); ok {
							s = rest2
						} else {
							s = rest
						}
					}
				}
				if u, err := url.PathUnescape(s); err == nil {
					s = u
				}
			}
			raw = append(raw, s...)
		}
		// An RFC 2231 value takes precedence over a plain one.
		params[name] = toUTF8(charset, raw)
	}
	return value, params
}

// splitParams splits at semicolons outside quoted strings.
func splitParams(v string) []string {
	var segs []string
	inQuote, esc, start := false, false, 0
	for i := 0; i < len(v); i++ {
		c := v[i]
		switch {
		case esc:
			esc = false
		case c == '\\' && inQuote:
			esc = true
		case c == '"':
			inQuote = !inQuote
		case c == ';' && !inQuote:
			segs = append(segs, v[start:i])
			start = i + 1
		}
	}
	return append(segs, v[start:])
}

// unquote removes the quotes and backslash escapes of a quoted string; an
// unterminated quote runs to the end.
func unquote(s string) string {
	if !strings.HasPrefix(s, `"`) {
		return s
	}
	var b strings.Builder
	for i := 1; i < len(s); i++ {
		c := s[i]
		if c == '\\' && i+1 < len(s) {
			i++
			b.WriteByte(s[i])
			continue
		}
		if c == '"' {
			break
		}
		b.WriteByte(c)
	}
	return b.String()
}

// filename returns the sanitised file name of a part from the
// Content-Disposition filename or else the Content-Type name parameter.
func filename(dparams, ctparams map[string]string) string {
	name := dparams["filename"]
	if name == "" {
		name = ctparams["name"]
	}
	if name == "" {
		return ""
	}
	return CleanFilename(decodeHeader(name))
}

var drivePrefixRe = regexp.MustCompile(`^[A-Za-z]:`)

// CleanFilename reduces a decoded file name (of a mail part, or of a file a
// host uploads to a ticket) to a base name that is safe to store and offer
// for download: NFC (macOS sends decomposed kana), no
// control or bidirectional-override characters (the "gpj.exe" trick), no
// directories (both separators and a drive letter), never "." or "..", and
// at most 255 bytes with the extension kept.
func CleanFilename(s string) string {
	s = norm.NFC.String(s)
	s = strings.Map(func(r rune) rune {
		switch {
		case r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0), r == utf8.RuneError:
			return -1
		case r == 0x200e || r == 0x200f || (r >= 0x202a && r <= 0x202e) || (r >= 0x2066 && r <= 0x2069) || r == 0xfeff:
			return -1
		}
		return r
	}, s)
	s = strings.ReplaceAll(s, `\`, "/")
	if i := strings.LastIndexByte(s, '/'); i >= 0 {
		s = s[i+1:]
	}
	s = strings.TrimSpace(drivePrefixRe.ReplaceAllString(s, ""))
	if s == "." || s == ".." {
		return ""
	}
	const maxName = 255
	if len(s) > maxName {
		ext := ""
		if i := strings.LastIndexByte(s, '.'); i > 0 && len(s)-i <= 16 {
			ext = s[i:]
		}
		base := s[:maxName-len(ext)]
		for !utf8.ValidString(base) {
			base = base[:len(base)-1]
		}
		s = base + ext
	}
	return s
}

// addrParser parses address lists; its word decoder never fails on a
// charset, where net/mail would reject the whole list.
var addrParser = netmail.AddressParser{WordDecoder: &mime.WordDecoder{CharsetReader: charsetReader}}

var (
	bracketAddrRe = regexp.MustCompile(`<\s*([^<>\s]+@[^<>\s]+?)\s*>`)
	bareAddrRe    = regexp.MustCompile(`[^\s<>()\[\],;:"']+@[^\s<>()\[\],;:"']+`)
)

// addresses parses an address header field into lower-cased addresses and
// display names. When the field is not RFC 5322 — Japanese mobile carriers
// long allowed addresses such as "taro..yamada.@docomo.ne.jp", and raw
// 8-bit names are common — it falls back to picking out what looks like
// addresses.
func addresses(h *mail.Header, key string) (addrs, names []string) {
	raw := h.Get(key)
	if strings.TrimSpace(raw) == "" {
		return nil, nil
	}
	if !utf8.ValidString(raw) || strings.IndexByte(raw, 0x1b) >= 0 {
		raw = guess([]byte(raw))
	}
	if list, err := addrParser.ParseList(raw); err == nil && len(list) > 0 {
		for _, a := range list {
			if addr, ok := cleanAddr(a.Address); ok {
				addrs = append(addrs, addr)
				names = append(names, cleanName(a.Name))
			}
		}
		if len(addrs) > 0 {
			return addrs, names
		}
	}
	for _, part := range splitAddrList(raw) {
		var addr, name string
		if m := bracketAddrRe.FindStringSubmatchIndex(part); m != nil {
			addr, name = part[m[2]:m[3]], part[:m[0]]
		} else if m := bareAddrRe.FindString(part); m != "" {
			addr = m
		}
		if a, ok := cleanAddr(addr); ok {
			addrs = append(addrs, a)
			names = append(names, cleanName(name))
		}
	}
	return addrs, names
}

// splitAddrList splits at commas outside quoted strings and angle brackets.
func splitAddrList(v string) []string {
	var parts []string
	inQuote, depth, start := false, 0, 0
	for i := 0; i < len(v); i++ {
		switch c := v[i]; {
		case c == '"':
			inQuote = !inQuote
		case c == '<' && !inQuote:
			depth++
		case c == '>' && !inQuote && depth > 0:
			depth--
		case c == ',' && !inQuote && depth == 0:
			parts = append(parts, v[start:i])
			start = i + 1
		}
	}
	return append(parts, v[start:])
}

// cleanAddr lower-cases an address and checks that it is usable: a local
// part and a domain, and no white space, controls or brackets.
func cleanAddr(a string) (string, bool) {
	a = strings.ToLower(strings.TrimSpace(a))
	local, domain, ok := strings.Cut(a, "@")
	if !ok || local == "" || domain == "" || strings.Contains(domain, "@") || len(a) > 320 {
		return "", false
	}
	for _, r := range a {
		if r <= ' ' || r == 0x7f || r == '<' || r == '>' || r == utf8.RuneError {
			return "", false
		}
	}
	return a, true
}

// cleanName decodes what net/mail leaves encoded (quoted encoded words,
// which Japanese mailers produce) and strips quotes and controls.
func cleanName(s string) string {
	s = decodeHeader(strings.TrimSpace(s))
	return strings.TrimSpace(strings.Trim(s, `"'`))
}

var msgIDRe = regexp.MustCompile(`<([^<>]+)>`)

// msgIDs returns the message IDs in a Message-ID, In-Reply-To or
// References value without angle brackets, leniently: go-message's strict
// parser first, then every <...> group (In-Reply-To often carries "Your
// message of ..." text), then a lone bare token.
func msgIDs(h *mail.Header, key string) []string {
	v := h.Get(key)
	if strings.TrimSpace(v) == "" {
		return nil
	}
	if l, err := h.MsgIDList(key); err == nil && len(l) > 0 {
		return validIDs(l)
	}
	var ids []string
	for _, m := range msgIDRe.FindAllStringSubmatch(v, -1) {
		ids = append(ids, strings.TrimSpace(m[1]))
	}
	if len(ids) == 0 {
		if f := strings.Fields(v); len(f) == 1 {
			ids = f
		}
	}
	return validIDs(ids)
}

func validIDs(ids []string) []string {
	var out []string
	for _, id := range ids {
		ok := id != "" && len(id) <= 998 && utf8.ValidString(id)
		for _, r := range id {
			if r <= ' ' || r == 0x7f {
				ok = false
			}
		}
		if ok {
			out = append(out, id)
		}
	}
	return out
}

var commentRe = regexp.MustCompile(`\([^()]*\)`)

// date parses the Date header; a date that cannot be read is the zero
// time rather than an error, since the receiving time serves as well.
func date(h *mail.Header) time.Time {
	if t, err := h.Date(); err == nil {
		return t
	}
	v := strings.Join(strings.Fields(commentRe.ReplaceAllString(h.Get("Date"), "")), " ")
	for _, layout := range []string{
		"Mon, 2 Jan 2006 15:04:05 -0700",
		"Mon, 2 Jan 2006 15:04:05 MST",
		"Mon, 2 Jan 2006 15:04 -0700",
		"2 Jan 2006 15:04:05 -0700",
		"Mon, 2 Jan 06 15:04:05 -0700",
		"Mon Jan 2 15:04:05 2006",
		"Mon Jan 2 15:04:05 MST 2006",
		"Mon, 2 Jan 2006 15:04:05",
		"2006/01/02 15:04:05 -0700",
		"2006-01-02 15:04:05 -0700",
		time.RFC3339,
	} {
		if t, err := time.Parse(layout, v); err == nil {
			return t
		}
	}
	return time.Time{}
}
