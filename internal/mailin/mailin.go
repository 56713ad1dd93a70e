// Package mailin parses inbound customer mail for the support desk. Parse
// reads one RFC 5322 message within a size limit and returns its sender,
// recipients, threading headers and subject, the body as UTF-8 text and the
// attachments, decoding the charsets Japanese enterprise mail still uses
// (ISO-2022-JP, Shift_JIS/CP932, EUC-JP) next to UTF-8 and guessing when a
// part is unlabelled or mislabelled; it flags automatic mail a desk must
// never answer. Tag and FormatTag read and write the "[ENM-T-000123]"
// ticket tag in subjects, and NewText cuts the quoted original off a reply.
package mailin

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/emersion/go-message"
	"github.com/emersion/go-message/mail"
	"github.com/emersion/go-message/textproto"
)

// Limits bound what Parse reads.
type Limits struct {
	MaxMessage    int64 // whole message bytes; 0 = 25 MiB
	MaxAttachment int64 // per attachment; 0 = 20 MiB. Larger attachments are not kept: Attachment.Dropped is true, Data nil, Size the bytes seen
}

// Attachment is a file attached to a message.
type Attachment struct {
	Filename    string // decoded (RFC 2231 and RFC 2047, incl. ISO-2022-JP/Shift_JIS), base name only: never a path (directories stripped, never "..", no control characters); "message.eml" for an unnamed message/rfc822, else "" if the part has no name
	ContentType string // e.g. "application/gzip" (lower-case, no parameters)
	Size        int64  // decoded bytes
	Data        []byte // decoded content; nil when Dropped
	Dropped     bool   // larger than Limits.MaxAttachment
}

// Message is a parsed inbound mail.
type Message struct {
	From        string   // the sender's address, lower-cased
	FromName    string   // decoded display name
	To          []string // addresses, lower-cased
	Subject     string   // decoded UTF-8
	MessageID   string   // without angle brackets; "" if missing
	InReplyTo   []string // message IDs without brackets
	References  []string // message IDs without brackets, in order
	Date        time.Time
	Text        string       // UTF-8 body text with LF line ends: text/plain preferred (first one in multipart/alternative or mixed); if only text/html, a plain-text rendering (tags stripped, entities decoded, <br>/<p> as line breaks)
	Attachments []Attachment // parts with Content-Disposition attachment, or non-text inline parts with a filename (details at Parse)
	// AutoSubmitted is set for Auto-Submitted other than "no", Precedence
	// bulk/junk/list, or a List-Id / X-Autoreply / X-Autorespond header
	// (and for bounces and receipts): mail a desk must never answer
	// (loops).
	AutoSubmitted bool
}

var (
	// ErrTooLarge is wrapped by the error Parse returns for a message
	// over Limits.MaxMessage.
	ErrTooLarge = errors.New("mailin: message too large")
	// ErrMalformed is wrapped, with a one-sentence reason, by the error
	// Parse returns for input that is not a mail message or has no usable
	// From address.
	ErrMalformed = errors.New("mailin: malformed message")
)

const (
	defaultMaxMessage    = 25 << 20
	defaultMaxAttachment = 20 << 20
	// Nesting and part counts that no real mail reaches; they bound the
	// work a crafted message can cause.
	maxDepth = 20
	maxParts = 1000
)

// Parse reads one message from r, at most lim.MaxMessage bytes (more is
// ErrTooLarge), and parses it. Header fields are decoded to UTF-8;
// addresses and message IDs that are not quite RFC 5322 are read
// leniently.
//
// Text is the first text/plain part that is not an attachment — within a
// multipart/alternative the text/plain rendering is preferred over the
// text/html one — or, if the first body part is HTML without a plain
// alternative, a plain-text rendering of it. Text is always valid UTF-8
// with LF line ends; format=flowed text is unwrapped.
//
// Attachments, in message order, are parts with a Content-Disposition of
// attachment, text and non-text parts with a file name that are not the
// body, message/rfc822 parts (the raw message, "message.eml" if unnamed),
// and unnamed non-text parts without Content-Disposition outside
// multipart/related (unnamed inline images in multipart/related are
// decoration and are dropped, as are the signatures of multipart/signed).
//
// AutoSubmitted is set for Auto-Submitted other than "no", Precedence
// bulk/junk/list, a List-Id, X-Autoreply or X-Autorespond header, and for
// bounces and receipts (multipart/report, Return-Path <>).
//
// A part that cannot be decoded (unknown charset, broken base64, missing
// closing boundary) keeps what could be read; an unknown charset is never
// an error.
func Parse(r io.Reader, lim Limits) (*Message, error) {
	maxMsg, maxAtt := lim.MaxMessage, lim.MaxAttachment
	if maxMsg <= 0 {
		maxMsg = defaultMaxMessage
	}
	if maxAtt <= 0 {
		maxAtt = defaultMaxAttachment
	}
	maxMsg = min(maxMsg, math.MaxInt64-1)
	maxAtt = min(maxAtt, math.MaxInt64-1)

	// One byte more than allowed tells a message of exactly the limit from
	// a longer one.
	data, err := io.ReadAll(io.LimitReader(r, maxMsg+1))
	if err != nil {
		return nil, fmt.Errorf("mailin: read message: %w", err)
	}
	if int64(len(data)) > maxMsg {
		return nil, fmt.Errorf("%w: more than %d bytes", ErrTooLarge, maxMsg)
	}
	data = skipMboxLine(data)
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, malformed("the message is empty")
	}
	th, body, err := readHeader(data)
	if err != nil {
		return nil, malformed("the header cannot be parsed (%s)", brief(err))
	}
	if th.Len() == 0 {
		return nil, malformed("the message has no header")
	}
	h := mail.Header{Header: message.Header{Header: th}}

	from, names := addresses(&h, "From")
	if len(from) == 0 {
		return nil, malformed("the From header field has no usable address")
	}
	m := &Message{From: from[0], FromName: names[0]}
	m.To, _ = addresses(&h, "To")
	m.Subject = decodeHeader(h.Get("Subject"))
	if ids := msgIDs(&h, "Message-Id"); len(ids) > 0 {
		m.MessageID = ids[0]
	}
	m.InReplyTo = msgIDs(&h, "In-Reply-To")
	m.References = msgIDs(&h, "References")
	m.Date = date(&h)
	m.AutoSubmitted = autoSubmitted(&h)

	w := walker{maxAtt: maxAtt}
	w.walk(th, body, 0, "", 0)
	w.finish(m)
	return m, nil
}

func malformed(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrMalformed, fmt.Sprintf(format, args...))
}

// brief shortens an error message from a parser, which may quote a whole
// binary header line, for use in a reason.
func brief(err error) string {
	s := cleanLine(strings.ToValidUTF8(err.Error(), "?"))
	if len(s) > 100 {
		n := 100
		for !utf8.RuneStart(s[n]) {
			n--
		}
		s = s[:n] + "…"
	}
	return s
}

// skipMboxLine drops the "From sender date" line that starts a message
// saved from an mbox file.
func skipMboxLine(data []byte) []byte {
	if bytes.HasPrefix(data, []byte("From ")) {
		if i := bytes.IndexByte(data, '\n'); i >= 0 {
			return data[i+1:]
		}
	}
	return data
}

// readHeader reads the message header and returns the reader positioned
// at the body.
func readHeader(data []byte) (textproto.Header, io.Reader, error) {
	br := bufio.NewReader(bytes.NewReader(data))
	h, err := textproto.ReadHeader(br)
	if err == io.EOF {
		// A message of header fields only, the last one without a
		// line break.
		br = bufio.NewReader(io.MultiReader(bytes.NewReader(data), strings.NewReader("\r\n")))
		h, err = textproto.ReadHeader(br)
	}
	return h, br, err
}

// autoSubmitted reports whether the header marks automatic mail (RFC 3834
// and the de-facto headers of list servers and vacation responders), or a
// bounce or receipt, which must never get an automatic answer.
func autoSubmitted(h *mail.Header) bool {
	if v := strings.Fields(strings.ToLower(commentRe.ReplaceAllString(h.Get("Auto-Submitted"), " "))); len(v) > 0 && strings.TrimSuffix(v[0], ";") != "no" {
		return true
	}
	switch strings.ToLower(strings.TrimSpace(commentRe.ReplaceAllString(h.Get("Precedence"), ""))) {
	case "bulk", "junk", "list":
		return true
	}
	for _, k := range []string{"List-Id", "X-Autoreply", "X-Autorespond"} {
		if h.Has(k) {
			return true
		}
	}
	if mt, _ := parseParams(h.Get("Content-Type")); mt == "multipart/report" {
		return true
	}
	return strings.TrimSpace(h.Get("Return-Path")) == "<>"
}

// part is a leaf of the MIME tree that may become the body or an
// attachment.
type part struct {
	mediaType string
	params    map[string]string // Content-Type parameters
	name      string            // sanitised file name
	alt       int               // id of the nearest multipart/alternative ancestor, 0 if none
	candidate bool              // inline text/plain or text/html: the body or an alternative of it
	data      []byte            // transfer-decoded, in the part's charset
	size      int64
	dropped   bool
}

type walker struct {
	maxAtt int64
	parts  []*part
	n      int // entities seen
}

// walk collects the leaves of the entity with header h and body. parent is
// the media type of the enclosing multipart and alt the id of the nearest
// multipart/alternative ancestor. A broken multipart structure ends the
// walk of that multipart, keeping the parts read so far.
func (w *walker) walk(h textproto.Header, body io.Reader, depth int, parent string, alt int) {
	w.n++
	mh := message.Header{Header: h}
	mt, params := parseParams(mh.Get("Content-Type"))
	if !strings.Contains(mt, "/") {
		mt = "text/plain" // RFC 2045 5.2: the default for a missing or invalid type
	}
	if strings.HasPrefix(mt, "multipart/") {
		if depth >= maxDepth {
			return
		}
		if b := params["boundary"]; b != "" {
			if mt == "multipart/alternative" {
				alt = w.n
			}
			mr := textproto.NewMultipartReader(body, b)
			for w.n < maxParts {
				p, err := mr.NextPart()
				if err != nil {
					return // io.EOF, or a broken structure
				}
				w.walk(p.Header, p, depth+1, mt, alt)
			}
			return
		}
		mt = "text/plain" // no boundary: the raw body is all there is
	}
	disp, dparams := parseParams(mh.Get("Content-Disposition"))
	attachment := disp != "" && disp != "inline" // RFC 2183: unknown types are attachments
	p := &part{mediaType: mt, params: params, name: filename(dparams, params), alt: alt}
	isMessage := mt == "message/rfc822" || mt == "message/global"
	switch {
	case parent == "multipart/signed" && isSignature(mt):
		return // a detached S/MIME or PGP signature: nothing for the desk
	case (mt == "text/plain" || mt == "text/html") && !attachment:
		p.candidate = true
	case attachment, isMessage, p.name != "",
		!strings.HasPrefix(mt, "text/") && disp == "" && parent != "multipart/related":
		if p.name == "" && isMessage {
			p.name = "message.eml"
		}
	default:
		return // an unnamed inline image or calendar: decoration
	}
	// The raw part is bounded by the message size, already in memory.
	raw, _ := io.ReadAll(body)
	p.data = transferDecode(mh.Get("Content-Transfer-Encoding"), raw)
	p.size = int64(len(p.data))
	if !p.candidate && p.size > w.maxAtt {
		p.data, p.dropped = nil, true
	}
	w.parts = append(w.parts, p)
}

func isSignature(mt string) bool {
	switch mt {
	case "application/pkcs7-signature", "application/x-pkcs7-signature", "application/pgp-signature":
		return true
	}
	return false
}

// transferDecode undoes a Content-Transfer-Encoding leniently; 7bit, 8bit,
// binary and unknown encodings leave the bytes as they are.
func transferDecode(cte string, raw []byte) []byte {
	enc, _ := parseParams(cte)
	switch strings.TrimSpace(commentRe.ReplaceAllString(enc, "")) {
	case "base64":
		return decodeBase64(raw)
	case "quoted-printable":
		return decodeQP(raw)
	}
	return raw
}

// decodeQP decodes quoted-printable leniently, unlike mime/quotedprintable,
// which stops at the first control character (raw ISO-2022-JP escapes are
// common): a malformed "=" stays as it is, and white space before a line
// break is dropped as RFC 2045 requires.
func decodeQP(b []byte) []byte {
	out := make([]byte, 0, len(b))
	for len(b) > 0 {
		line := b
		nl := bytes.IndexByte(b, '\n')
		if nl >= 0 {
			line, b = b[:nl], b[nl+1:]
		} else {
			b = nil
		}
		line = bytes.TrimRight(line, " \t\r")
		soft := bytes.HasSuffix(line, []byte("="))
		if soft {
			line = line[:len(line)-1]
		}
		for i := 0; i < len(line); i++ {
			c := line[i]
			if c == '=' && i+2 < len(line) && isHex(line[i+1]) && isHex(line[i+2]) {
				v, _ := strconv.ParseUint(string(line[i+1:i+3]), 16, 8)
				out = append(out, byte(v))
				i += 2
				continue
			}
			out = append(out, c)
		}
		if nl >= 0 && !soft {
			out = append(out, '\r', '\n')
		}
	}
	return out
}

// finish chooses the body among the text parts and adds the attachments to
// m.
func (w *walker) finish(m *Message) {
	body := w.body()
	for _, p := range w.parts {
		if p == body {
			m.Text = p.text()
			continue
		}
		if p.candidate {
			if p.name == "" {
				continue // an alternative rendering of the body, or a footer
			}
			if p.size > w.maxAtt {
				p.data, p.dropped = nil, true
			}
		}
		m.Attachments = append(m.Attachments, Attachment{
			Filename: p.name, ContentType: p.mediaType, Size: p.size, Data: p.data, Dropped: p.dropped,
		})
	}
}

// body returns the first unnamed text part — its text/plain alternative
// if it is HTML with one — or else the first named text part, text/plain
// before text/html.
func (w *walker) body() *part {
	for _, p := range w.parts {
		if !p.candidate || p.name != "" {
			continue
		}
		if p.mediaType == "text/html" && p.alt != 0 {
			for _, q := range w.parts {
				if q.candidate && q.name == "" && q.alt == p.alt && q.mediaType == "text/plain" {
					return q
				}
			}
		}
		return p
	}
	for _, mt := range []string{"text/plain", "text/html"} {
		for _, p := range w.parts {
			if p.candidate && p.mediaType == mt {
				return p
			}
		}
	}
	return nil
}

// text decodes the part to the body text.
func (p *part) text() string {
	cs := p.params["charset"]
	if p.mediaType == "text/html" {
		if cs == "" {
			cs = metaCharset(p.data)
		}
		return htmlToText(cleanText(toUTF8(cs, p.data)))
	}
	s := cleanText(toUTF8(cs, p.data))
	if strings.EqualFold(p.params["format"], "flowed") {
		s = unflow(s, strings.EqualFold(p.params["delsp"], "yes"))
	}
	return s
}

// cleanText turns CRLF and lone CR into LF and drops control characters
// other than tab and line feed (NUL, which PostgreSQL text refuses, and
// escape bytes a broken ISO-2022-JP body leaves behind).
func cleanText(s string) string {
	s = strings.ReplaceAll(s, "\r\n", "\n")
	s = strings.ReplaceAll(s, "\r", "\n")
	return strings.Map(func(r rune) rune {
		if (r < 0x20 && r != '\t' && r != '\n') || r == 0x7f {
			return -1
		}
		return r
	}, s)
}

// unflow joins the soft line breaks of format=flowed text (RFC 3676):
// a line ending in a space continues on the next line of the same quote
// depth. With DelSp=yes, used for Japanese text without spaces between
// words, that space goes too.
func unflow(s string, delsp bool) string {
	var out []string
	var cur strings.Builder
	open, depth := false, 0
	flush := func() {
		if open {
			out = append(out, cur.String())
			cur.Reset()
			open = false
		}
	}
	for _, line := range strings.Split(s, "\n") {
		d := 0
		for d < len(line) && line[d] == '>' {
			d++
		}
		content := strings.TrimPrefix(line[d:], " ") // space-stuffing
		if open && d != depth {
			flush()
		}
		if !open {
			if d > 0 {
				cur.WriteString(strings.Repeat(">", d) + " ")
			}
			open, depth = true, d
		}
		soft := strings.HasSuffix(content, " ") && content != "-- "
		if soft && delsp {
			content = content[:len(content)-1]
		}
		cur.WriteString(content)
		if !soft {
			flush()
		}
	}
	flush()
	return strings.Join(out, "\n")
}
