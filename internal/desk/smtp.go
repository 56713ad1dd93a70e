package desk

import (
	"context"
	"errors"
	"io"
	"strings"
	"time"

	"github.com/emersion/go-smtp"
)

// SMTPServer returns an SMTP server that delivers every message addressed
// to the desk's address to Receive. It relays nothing: other recipients
// are refused with 550, so it cannot be used as an open relay. After a
// message that queued mail, queued is called (to wake the outbox sender).
// The caller sets Addr or calls Serve with a listener.
func (d *Desk) SMTPServer(address, domain string, queued func()) *smtp.Server {
	s := smtp.NewServer(&backend{d: d, address: strings.ToLower(address), queued: queued})
	s.Domain = domain
	s.MaxMessageBytes = MaxMessage
	s.MaxRecipients = 20
	s.ReadTimeout = 2 * time.Minute
	s.WriteTimeout = 2 * time.Minute
	return s
}

type backend struct {
	d       *Desk
	address string
	queued  func()
}

func (b *backend) NewSession(c *smtp.Conn) (smtp.Session, error) {
	return &session{b: b}, nil
}

type session struct {
	b    *backend
	ours bool // a recipient is the desk
}

func (s *session) Reset()        { s.ours = false }
func (s *session) Logout() error { return nil }

func (s *session) Mail(from string, opts *smtp.MailOptions) error { return nil }

func (s *session) Rcpt(to string, opts *smtp.RcptOptions) error {
	if !strings.EqualFold(to, s.b.address) {
		return &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1},
			Message: "no such mailbox here: this server accepts mail for " + s.b.address + " only"}
	}
	s.ours = true
	return nil
}

func (s *session) Data(r io.Reader) error {
	if !s.ours {
		io.Copy(io.Discard, r)
		return &smtp.SMTPError{Code: 554, EnhancedCode: smtp.EnhancedCode{5, 5, 1}, Message: "no valid recipients"}
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	res, err := s.b.d.Receive(ctx, r)
	io.Copy(io.Discard, r) // Data must consume r
	if errors.Is(err, ErrTooLarge) {
		return smtp.ErrDataTooLarge
	}
	if err != nil {
		s.b.d.log().Error("support mail could not be handled; the sender is asked to retry", "err", err)
		return &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0},
			Message: "temporary failure: try again later"}
	}
	if res.Action != Duplicate && s.b.queued != nil {
		s.b.queued()
	}
	return nil
}
