package mailin

import (
	"html"
	"regexp"
	"strings"
)

// Elements that start a new line; "br" is a hard line break of its own.
var blockTags = map[string]bool{
	"p": true, "div": true, "tr": true, "li": true, "ul": true, "ol": true,
	"h1": true, "h2": true, "h3": true, "h4": true, "h5": true, "h6": true,
	"table": true, "blockquote": true, "pre": true, "hr": true, "dl": true,
	"dt": true, "dd": true, "section": true, "article": true, "header": true,
	"footer": true, "address": true, "center": true, "form": true,
	"fieldset": true, "figure": true, "caption": true, "body": true,
}

// Elements whose content is not text.
var skipTags = map[string]bool{"script": true, "style": true, "title": true, "xml": true, "template": true}

var metaCharsetRe = regexp.MustCompile(`(?i)<meta[^>]+charset\s*=\s*["']?\s*([a-z0-9_\-:.]+)`)

// metaCharset returns the charset an HTML document declares in a <meta>
// element, for HTML parts whose Content-Type has none.
func metaCharset(b []byte) string {
	if len(b) > 4096 {
		b = b[:4096]
	}
	if m := metaCharsetRe.FindSubmatch(b); m != nil {
		return string(m[1])
	}
	return ""
}

// htmlText accumulates the plain-text rendering of an HTML body.
type htmlText struct {
	b       strings.Builder
	quote   int  // blockquote depth: lines are prefixed with "> "
	bol     bool // at the beginning of a line
	space   bool // white space is pending between words
	started bool // anything written on the current line (prefix aside)
}

func (t *htmlText) prefix() {
	if t.bol {
		t.b.WriteString(strings.Repeat("> ", t.quote))
		t.bol = false
	}
}

// word writes text that contains no collapsible white space.
func (t *htmlText) word(s string) {
	if s == "" {
		return
	}
	t.prefix()
	if t.space && t.started {
		t.b.WriteByte(' ')
	}
	t.space = false
	t.started = true
	t.b.WriteString(strings.ReplaceAll(s, "\u00a0", " "))
}

// newline ends the line (<br>).
func (t *htmlText) newline() {
	t.prefix()
	t.b.WriteByte('\n')
	t.bol, t.space, t.started = true, false, false
}

// block ends the line unless nothing was written on it.
func (t *htmlText) block() {
	if t.started {
		t.newline()
	}
	t.space = false
}

// htmlToText renders an HTML body as plain text: tags are stripped,
// entities decoded, <br> and block elements (<p>, <div>, ...) become line
// breaks, white space collapses as a browser would, except in <pre>, and
// <blockquote> content is prefixed with "> " so that NewText recognises it
// as quoted.
func htmlToText(s string) string {
	var t htmlText
	t.bol = true
	lower := asciiLower(s)
	unclosed := make(map[string]bool)
	pre := 0
	for len(s) > 0 {
		i := strings.IndexByte(s, '<')
		if i < 0 {
			i = len(s)
		}
		if i > 0 {
			text := s[:i]
			if pre > 0 {
				for j, line := range strings.Split(html.UnescapeString(text), "\n") {
					if j > 0 {
						t.newline()
					}
					if line != "" {
						t.prefix()
						t.started = true
						t.b.WriteString(strings.ReplaceAll(line, "\u00a0", " "))
					}
				}
			} else {
				if strings.IndexAny(text[:1], " \t\r\n\f") == 0 {
					t.space = true
				}
				for _, w := range strings.Fields(text) {
					t.word(html.UnescapeString(w))
					t.space = true
				}
				if !strings.ContainsAny(text[len(text)-1:], " \t\r\n\f") {
					t.space = false
				}
			}
			s = s[i:]
			continue
		}
		// s starts with '<'.
		if strings.HasPrefix(s, "<!--") {
			end := strings.Index(s[4:], "-->")
			if end < 0 {
				break
			}
			s = s[4+end+3:]
			continue
		}
		if len(s) < 2 || !(isLetter(s[1]) || s[1] == '/' || s[1] == '!' || s[1] == '?') {
			t.word("<")
			s = s[1:]
			continue
		}
		end := tagEnd(s)
		tag := s[1:end]
		s = s[min(end+1, len(s)):]
		closing := strings.HasPrefix(tag, "/")
		name := strings.ToLower(tagName(strings.TrimPrefix(tag, "/")))
		switch {
		case skipTags[name] && !closing:
			// Skip to the closing tag; without one only the tag goes.
			// Searches go forward through lower, and a failed one is
			// not repeated, so that many unclosed tags stay linear.
			if !unclosed[name] {
				off := len(lower) - len(s)
				if k := strings.Index(lower[off:], "</"+name); k >= 0 {
					s = s[k:]
				} else {
					unclosed[name] = true
				}
			}
		case name == "br":
			t.newline()
		case name == "blockquote":
			t.block()
			if closing {
				t.quote = max(t.quote-1, 0)
			} else {
				t.quote++
			}
		case name == "pre":
			t.block()
			if closing {
				pre = max(pre-1, 0)
			} else {
				pre++
			}
		case name == "li" && !closing:
			t.block()
			t.word("-")
			t.space = true
		case blockTags[name]:
			t.block()
		case name == "td" || name == "th":
			if !closing {
				t.space = true
			}
		}
	}
	return tidyLines(t.b.String())
}

// asciiLower lower-cases ASCII letters only, keeping byte offsets.
func asciiLower(s string) string {
	b := []byte(s)
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}

func isLetter(c byte) bool { return 'A' <= c&^0x20 && c&^0x20 <= 'Z' }

// tagEnd returns the index of the '>' that ends the tag at the start of s,
// skipping quoted attribute values, or len(s).
func tagEnd(s string) int {
	var quote byte
	for i := 1; i < len(s); i++ {
		c := s[i]
		switch {
		case quote != 0:
			if c == quote {
				quote = 0
			}
		case c == '"' || c == '\'':
			quote = c
		case c == '>':
			return i
		}
	}
	return len(s)
}

func tagName(tag string) string {
	for i := 0; i < len(tag); i++ {
		if c := tag[i]; c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '/' || c == '>' {
			return tag[:i]
		}
	}
	return tag
}

// tidyLines trims trailing white space from lines, collapses runs of blank
// lines to one and trims blank lines at both ends.
func tidyLines(s string) string {
	lines := strings.Split(s, "\n")
	out := make([]string, 0, len(lines))
	blank := 0
	for _, l := range lines {
		l = strings.TrimRight(l, " \t")
		if strings.TrimSpace(l) == "" {
			blank++
			if blank > 1 {
				continue
			}
		} else {
			blank = 0
		}
		out = append(out, l)
	}
	return strings.Trim(strings.Join(out, "\n"), "\n")
}
