package notify

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"mime"
	netmail "net/mail"
	"regexp"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/emersion/go-message/mail"
)

// ErrHeaderInjection is wrapped by the error Letter.Message returns when a
// header field (From, To, Subject, MessageID, InReplyTo, References, Lang)
// contains a line break or another control character: such a value could add
// header fields or recipients of the caller's choosing.
var ErrHeaderInjection = errors.New("line break or control character in a header field (header injection refused)")

// Letter is a plain-text mail to be composed by Message or NewMail.
type Letter struct {
	From    string // "enmei <noreply@example.jp>" or "noreply@example.jp"
	To      string // one recipient, with or without display name
	Subject string // UTF-8; MIME-encoded (RFC 2047) when not plain ASCII
	Text    string // UTF-8 body; LF or CRLF line ends
	// Date is the Date header; zero means time.Now().
	Date time.Time
	// MessageID, with or without angle brackets; "" generates
	// "<random@domain of From>".
	MessageID string
	// InReplyTo and References are message IDs, with or without angle
	// brackets, for threading.
	InReplyTo  string
	References []string
	// Lang is the Content-Language ("ja", "en"); "" omits the header.
	Lang string
	// Unsubscribe is an https URL that ends the subscription with one
	// POST (RFC 8058): List-Unsubscribe and List-Unsubscribe-Post are
	// set, so mail clients show an unsubscribe button. "" omits them.
	Unsubscribe string
}

var (
	// msgIDRe is the dot-atom-ish form of a message ID without brackets.
	msgIDRe = regexp.MustCompile(`^[!#-'*+\-/-9=?A-Z^-~.]+@[!#-'*+\-/-9=?A-Z^-~.]+$`)
	langRe  = regexp.MustCompile(`^[A-Za-z]{1,8}(-[A-Za-z0-9]{1,8})*$`)
)

// Message composes the complete message: a single text/plain; charset=utf-8
// part with Date, From, To, Subject, Message-ID and MIME-Version, CRLF line
// ends and only 7-bit ASCII bytes. A subject that is not plain ASCII is
// encoded as RFC 2047 B-words ("=?utf-8?b?...?="), the usual form in Japan;
// a body with any non-ASCII character is base64, an ASCII body
// quoted-printable. Addresses must be single, valid and ASCII (SMTPUTF8 is not
// used; write internationalised domains in punycode).
func (l Letter) Message() ([]byte, error) {
	msg, _, err := l.compose()
	return msg, err
}

// NewMail composes l (see Letter.Message) into a queued Mail, due at once.
func NewMail(l Letter) (Mail, error) {
	if l.Date.IsZero() {
		l.Date = time.Now()
	}
	msg, to, err := l.compose()
	if err != nil {
		return Mail{}, err
	}
	return Mail{
		To:        to,
		Subject:   l.Subject,
		Message:   msg,
		Status:    StatusQueued,
		CreatedAt: l.Date,
		NextAt:    l.Date,
	}, nil
}

// compose builds the message and returns it with the bare To address.
func (l Letter) compose() ([]byte, string, error) {
	for _, f := range []struct{ name, value string }{
		{"From", l.From}, {"To", l.To}, {"Subject", l.Subject},
		{"MessageID", l.MessageID}, {"InReplyTo", l.InReplyTo},
		{"References", strings.Join(l.References, " ")}, {"Lang", l.Lang}, {"Unsubscribe", l.Unsubscribe},
	} {
		if err := checkHeaderValue(f.name, f.value); err != nil {
			return nil, "", err
		}
	}
	from, err := parseAddress("From", l.From)
	if err != nil {
		return nil, "", err
	}
	to, err := parseAddress("To", l.To)
	if err != nil {
		return nil, "", err
	}
	if !utf8.ValidString(l.Text) {
		return nil, "", errors.New("notify: mail body is not valid UTF-8")
	}

	id := l.MessageID
	if id == "" {
		id = rand.Text() + "@" + from.Address[strings.LastIndexByte(from.Address, '@')+1:]
	} else if id, err = parseMsgID("MessageID", id); err != nil {
		return nil, "", err
	}
	var inReplyTo []string
	if l.InReplyTo != "" {
		v, err := parseMsgID("InReplyTo", l.InReplyTo)
		if err != nil {
			return nil, "", err
		}
		inReplyTo = []string{v}
	}
	var refs []string
	for _, r := range l.References {
		v, err := parseMsgID("References", r)
		if err != nil {
			return nil, "", err
		}
		refs = append(refs, v)
	}
	if l.Lang != "" && !langRe.MatchString(l.Lang) {
		return nil, "", fmt.Errorf("notify: Lang %q is not a language tag such as \"ja\" or \"en\"", l.Lang)
	}
	date := l.Date
	if date.IsZero() {
		date = time.Now()
	}
	text := toCRLF(l.Text)

	// go-message writes header fields in the reverse order of setting.
	var h mail.Header
	if isASCII(text) {
		h.Set("Content-Transfer-Encoding", "quoted-printable")
	} else {
		h.Set("Content-Transfer-Encoding", "base64")
	}
	h.SetContentType("text/plain", map[string]string{"charset": "utf-8"})
	h.Set("MIME-Version", "1.0")
	if l.Unsubscribe != "" {
		if strings.ContainsAny(l.Unsubscribe, "<> ") || !(strings.HasPrefix(l.Unsubscribe, "https://") || strings.HasPrefix(l.Unsubscribe, "http://")) {
			return nil, "", fmt.Errorf("notify: unsubscribe link %q is not an http(s) URL", l.Unsubscribe)
		}
		h.Set("List-Unsubscribe-Post", "List-Unsubscribe=One-Click")
		h.Set("List-Unsubscribe", "<"+l.Unsubscribe+">")
	}
	if l.Lang != "" {
		h.Set("Content-Language", l.Lang)
	}
	h.SetMsgIDList("References", refs)
	h.SetMsgIDList("In-Reply-To", inReplyTo)
	h.SetMessageID(id)
	h.Set("Subject", encodeSubject(l.Subject))
	h.SetAddressList("To", []*mail.Address{to})
	h.SetAddressList("From", []*mail.Address{from})
	h.SetDate(date)

	var buf bytes.Buffer
	w, err := mail.CreateSingleInlineWriter(&buf, h)
	if err != nil {
		return nil, "", fmt.Errorf("notify: compose: %w", err)
	}
	if _, err := w.Write([]byte(text)); err != nil {
		return nil, "", fmt.Errorf("notify: compose: %w", err)
	}
	if err := w.Close(); err != nil {
		return nil, "", fmt.Errorf("notify: compose: %w", err)
	}
	if !bytes.HasSuffix(buf.Bytes(), []byte("\r\n")) {
		buf.WriteString("\r\n")
	}
	msg := buf.Bytes()
	if !isASCII(string(msg)) || bytes.Contains(bytes.ReplaceAll(msg, []byte("\r\n"), nil), []byte("\n")) {
		// Cannot happen with the encodings above; checked because the
		// Sender relies on it.
		return nil, "", errors.New("notify: compose: message is not 7-bit with CRLF line ends")
	}
	return msg, to.Address, nil
}

// encodeSubject returns an ASCII subject as it is and otherwise encodes it
// as RFC 2047 B-words ("=?utf-8?b?...?="): 4 characters per kanji instead of
// Q's 9, and what Japanese mail clients have always produced. Each word
// carries at most 36 bytes of whole characters, so that the words, separated
// by spaces (which decoders drop between encoded words), fold into lines of
// at most 76 characters.
func encodeSubject(s string) string {
	if mime.BEncoding.Encode("utf-8", s) == s {
		return s
	}
	const maxBytes = 36
	var words []string
	for s != "" {
		n := 0
		for n < len(s) {
			_, size := utf8.DecodeRuneInString(s[n:])
			if n+size > maxBytes {
				break
			}
			n += size
		}
		words = append(words, "=?utf-8?b?"+base64.StdEncoding.EncodeToString([]byte(s[:n]))+"?=")
		s = s[n:]
	}
	return strings.Join(words, " ")
}

// checkHeaderValue refuses control characters (but tab) in a header field.
func checkHeaderValue(field, v string) error {
	for _, r := range v {
		if (r < 0x20 && r != '\t') || r == 0x7f {
			return fmt.Errorf("notify: %s %q: %w", field, v, ErrHeaderInjection)
		}
	}
	if !utf8.ValidString(v) {
		return fmt.Errorf("notify: %s %q is not valid UTF-8", field, v)
	}
	return nil
}

// parseAddress parses one RFC 5322 address and insists on an ASCII
// addr-spec, which is what SMTP without SMTPUTF8 can carry.
func parseAddress(field, v string) (*mail.Address, error) {
	if strings.TrimSpace(v) == "" {
		return nil, fmt.Errorf("notify: %s address is missing", field)
	}
	a, err := netmail.ParseAddress(v)
	if err != nil {
		return nil, fmt.Errorf("notify: %s address %q: %w", field, v, err)
	}
	if !isASCII(a.Address) || strings.ContainsAny(a.Address, " \t<>") {
		return nil, fmt.Errorf("notify: %s address %q: only ASCII addresses are supported (write the domain in punycode)", field, v)
	}
	return a, nil
}

// parseMsgID strips optional angle brackets from a message ID and checks
// its form.
func parseMsgID(field, v string) (string, error) {
	id := strings.TrimSpace(v)
	if strings.HasPrefix(id, "<") && strings.HasSuffix(id, ">") {
		id = id[1 : len(id)-1]
	}
	if !msgIDRe.MatchString(id) {
		return "", fmt.Errorf("notify: %s %q is not a message ID of the form <left@right>", field, v)
	}
	return id, nil
}

// toCRLF turns LF and lone CR line ends into CRLF.
func toCRLF(s string) string {
	s = strings.ReplaceAll(s, "\r\n", "\n")
	s = strings.ReplaceAll(s, "\r", "\n")
	return strings.ReplaceAll(s, "\n", "\r\n")
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}
