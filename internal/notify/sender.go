package notify

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	netmail "net/mail"
	"strings"
	"sync"
	"time"

	"github.com/emersion/go-smtp"
)

// Sender delivers the outbox's due mail over SMTP. Run it on every replica:
// Outbox.ClaimMail hands each mail to one Sender. All state that matters is
// in the Outbox, so a restarted Sender carries on where the old one stopped;
// mail it had claimed but not finished comes back when the claim ends (and
// may then be delivered twice, if the server had accepted it already).
//
// The zero values of the optional fields select the defaults given. A Sender
// must not be copied once used.
type Sender struct {
	Outbox Outbox     // required
	SMTP   SMTPConfig // required; see ParseSMTPURL
	// EnvelopeFrom is the envelope sender (MAIL FROM, where bounces go);
	// "" means the address in each message's From header.
	EnvelopeFrom string
	Now          func() time.Time // time.Now
	Log          *slog.Logger     // slog.Default(); message bodies are never logged
	Batch        int              // mails per claim and SMTP connection: 100
	Poll         time.Duration    // wait between rounds when idle: 2 s
	// Backoff is the wait after the attempts'th failed attempt:
	// DefaultBackoff.
	Backoff func(attempts int) time.Duration
	// MaxAttempts is the number of attempts after which a mail fails for
	// good: 15 (about 3 hours with DefaultBackoff).
	MaxAttempts int
	// Claim is how long a claim keeps other Senders off a batch: 2 min.
	// A batch still unsent after 3/4 of it is left for a later round.
	Claim time.Duration

	wakeOnce sync.Once
	wake     chan struct{}
}

// DefaultBackoff is 5 s after the first failed attempt, doubling with each
// further one up to 30 minutes, with ±10% jitter so that replicas and mails
// spread out.
func DefaultBackoff(attempts int) time.Duration {
	d := 30 * time.Minute
	if attempts < 1 {
		attempts = 1
	}
	if attempts <= 20 {
		d = min(d, 5*time.Second<<(attempts-1))
	}
	return time.Duration(float64(d) * (0.9 + 0.2*rand.Float64()))
}

// settings is a Sender's configuration with the defaults filled in.
type settings struct {
	now         func() time.Time
	log         *slog.Logger
	batch       int
	poll        time.Duration
	backoff     func(int) time.Duration
	maxAttempts int
	claim       time.Duration
}

func (s *Sender) settings() settings {
	c := settings{
		now: s.Now, log: s.Log, batch: s.Batch, poll: s.Poll,
		backoff: s.Backoff, maxAttempts: s.MaxAttempts, claim: s.Claim,
	}
	if c.now == nil {
		c.now = time.Now
	}
	if c.log == nil {
		c.log = slog.Default()
	}
	if c.batch <= 0 {
		c.batch = 100
	}
	if c.poll <= 0 {
		c.poll = 2 * time.Second
	}
	if c.backoff == nil {
		c.backoff = DefaultBackoff
	}
	if c.maxAttempts <= 0 {
		c.maxAttempts = 15
	}
	if c.claim <= 0 {
		c.claim = 2 * time.Minute
	}
	return c
}

func (s *Sender) wakeChan() chan struct{} {
	s.wakeOnce.Do(func() { s.wake = make(chan struct{}, 1) })
	return s.wake
}

// Wake makes a running Run start a round now rather than after Poll, so
// that freshly enqueued mail goes out at once. It never blocks.
func (s *Sender) Wake() {
	select {
	case s.wakeChan() <- struct{}{}:
	default:
	}
}

// Run sends due mail until ctx is done, then returns nil. A round that
// claimed a full batch is followed at once by the next; otherwise Run waits
// for Poll or Wake. Failures are logged and retried, never returned: only a
// Sender without an Outbox or with an unusable SMTPConfig is an error.
func (s *Sender) Run(ctx context.Context) error {
	if s.Outbox == nil {
		return errors.New("notify: Sender has no Outbox")
	}
	if err := s.SMTP.check(); err != nil {
		return fmt.Errorf("notify: SMTP %s: %w", s.SMTP, err)
	}
	c := s.settings()
	wake := s.wakeChan()
	c.log.Info("mail sender started", "smtp", s.SMTP.String(), "batch", c.batch, "poll", c.poll)
	timer := time.NewTimer(0)
	<-timer.C
	for {
		_, claimed, err := s.round(ctx, c)
		if ctx.Err() != nil {
			c.log.Info("mail sender stopped")
			return nil
		}
		if err != nil {
			c.log.Error("mail round failed", "err", err)
		} else if claimed == c.batch {
			continue // there may be more due
		}
		timer.Reset(c.poll)
		select {
		case <-ctx.Done():
			timer.Stop()
			c.log.Info("mail sender stopped")
			return nil
		case <-wake:
			timer.Stop()
		case <-timer.C:
		}
	}
}

// SendOnce claims one batch of due mail, sends it over one SMTP connection
// and records each outcome in the Outbox. It returns the number of mails
// sent, and an error when the outbox failed or the server could not be
// reached (the batch is then recorded as a failed attempt). Rejections of
// single mails are recorded, not returned.
func (s *Sender) SendOnce(ctx context.Context) (sent int, err error) {
	if s.Outbox == nil {
		return 0, errors.New("notify: Sender has no Outbox")
	}
	sent, _, err = s.round(ctx, s.settings())
	return sent, err
}

func (s *Sender) round(ctx context.Context, c settings) (sent, claimed int, err error) {
	now := c.now()
	mails, err := s.Outbox.ClaimMail(ctx, now, now.Add(c.claim), c.batch)
	if err != nil {
		return 0, 0, fmt.Errorf("notify: claim mail: %w", err)
	}
	if len(mails) == 0 {
		return 0, 0, nil
	}
	sent, err = s.deliver(ctx, c, mails)
	return sent, len(mails), err
}

// errClaimEnding ends a batch whose claim is about to run out.
var errClaimEnding = errors.New("claim on the batch running out")

// deliver sends mails over one connection and records the outcomes.
func (s *Sender) deliver(ctx context.Context, c settings, mails []Mail) (sent int, err error) {
	// Outcomes are recorded even when ctx ends: a mail the server accepted
	// must be marked sent.
	rctx := context.WithoutCancel(ctx)
	var errs []error
	record := func(err error) {
		if err != nil {
			errs = append(errs, err)
		}
	}
	// Stop sending well before the claim ends, lest another Sender claim
	// the rest of the batch while this one is still at it.
	bctx, cancel := context.WithTimeoutCause(ctx, c.claim*3/4, errClaimEnding)
	defer cancel()

	client, err := s.SMTP.dial(bctx)
	if err != nil {
		if ctx.Err() != nil {
			return 0, nil // shutting down: the claims run out by themselves
		}
		for _, m := range mails {
			record(s.failed(rctx, c, m, err, true))
		}
		errs = append([]error{fmt.Errorf("notify: %w", err)}, errs...)
		return 0, errors.Join(errs...)
	}
	// go-smtp's command deadlines do not watch ctx: close on cancel.
	stop := context.AfterFunc(bctx, func() { client.Close() })
	broken := false
	defer func() {
		if stop() && !broken {
			client.Quit()
		}
		client.Close()
	}()

	for i, m := range mails {
		if bctx.Err() != nil {
			if ctx.Err() == nil {
				c.log.Warn("mail batch took too long; leaving the rest for a later round",
					"left", len(mails)-i, "claim", c.claim)
			}
			break
		}
		err := s.sendOne(client, m)
		if err != nil && bctx.Err() != nil {
			if ctx.Err() != nil {
				break // shutting down: this mail's claim runs out by itself
			}
			err = fmt.Errorf("%w: %w", context.Cause(bctx), err)
		}
		if err == nil {
			sent++
			at := c.now()
			if rerr := s.Outbox.MailSent(rctx, m.ID, at); rerr != nil {
				c.log.Error("mail sent but not recorded as sent; it will be sent again",
					"mail_id", m.ID, "to", m.To, "err", rerr)
				record(fmt.Errorf("notify: record mail %d sent: %w", m.ID, rerr))
				continue
			}
			c.log.Info("mail sent", "mail_id", m.ID, "to", m.To, "attempt", m.Attempts+1)
			continue
		}
		var reply *smtp.SMTPError
		var perm permanentError
		isReply, isPerm := errors.As(err, &reply), errors.As(err, &perm)
		record(s.failed(rctx, c, m, err, !isReply && !isPerm))
		if isPerm {
			continue // nothing was said to the server
		}
		if isReply && reply.Code != 421 {
			if rerr := client.Reset(); rerr == nil {
				continue
			} else {
				err = fmt.Errorf("RSET: %w", netCause(rerr))
			}
		}
		// The connection is gone: the rest of the batch fails alike.
		broken = true
		lost := fmt.Errorf("smtp %s: connection lost: %w", s.SMTP.Addr(), err)
		for _, m := range mails[i+1:] {
			record(s.failed(rctx, c, m, lost, true))
		}
		errs = append([]error{fmt.Errorf("notify: %w", lost)}, errs...)
		break
	}
	return sent, errors.Join(errs...)
}

// sendOne runs one MAIL/RCPT/DATA transaction.
func (s *Sender) sendOne(client *smtp.Client, m Mail) error {
	from := s.EnvelopeFrom
	if from == "" {
		var err error
		if from, err = headerFrom(m.Message); err != nil {
			return permanentError{err}
		}
	}
	if err := client.Mail(from, &smtp.MailOptions{Size: int64(len(m.Message))}); err != nil {
		return fmt.Errorf("MAIL FROM:<%s>: %w", from, netCause(err))
	}
	if err := client.Rcpt(m.To, nil); err != nil {
		return fmt.Errorf("RCPT TO:<%s>: %w", m.To, netCause(err))
	}
	w, err := client.Data()
	if err != nil {
		return fmt.Errorf("DATA: %w", netCause(err))
	}
	if _, err := w.Write(m.Message); err != nil {
		w.Close()
		return fmt.Errorf("DATA: %w", netCause(err))
	}
	if err := w.Close(); err != nil {
		return fmt.Errorf("DATA: %w", netCause(err))
	}
	return nil
}

// headerFrom is the address in the message's From header.
func headerFrom(msg []byte) (string, error) {
	m, err := netmail.ReadMessage(bytes.NewReader(msg))
	if err != nil {
		return "", fmt.Errorf("message unreadable: %w", err)
	}
	from, err := m.Header.AddressList("From")
	if err != nil || len(from) == 0 {
		return "", fmt.Errorf("message has no valid From address: %q", m.Header.Get("From"))
	}
	return from[0].Address, nil
}

// permanentError marks a failure that retrying cannot cure.
type permanentError struct{ error }

func (e permanentError) Unwrap() error { return e.error }

// permanent reports whether err is final for the mail: a 5xx reply, bar
// those about our authentication (530, 534, 535, 538), which an operator can
// fix, or a message the Sender cannot send at all.
func permanent(err error) bool {
	if errors.As(err, new(permanentError)) {
		return true
	}
	var reply *smtp.SMTPError
	if !errors.As(err, &reply) || reply.Code < 500 || reply.Code > 599 {
		return false
	}
	switch reply.Code {
	case 530, 534, 535, 538:
		return false
	}
	return true
}

// failed records a failed attempt; connection says whether the connection
// rather than the mail failed (for the log).
func (s *Sender) failed(ctx context.Context, c settings, m Mail, err error, connection bool) error {
	attempts := m.Attempts + 1
	final := permanent(err) || attempts >= c.maxAttempts
	now := c.now()
	next := now
	if !final {
		next = now.Add(c.backoff(attempts))
	}
	text := err.Error()
	if len(text) > 1000 {
		text = strings.ToValidUTF8(text[:1000], "") + "…"
	}
	if rerr := s.Outbox.MailFailed(ctx, m.ID, text, next, final); rerr != nil {
		c.log.Error("mail failed and not recorded", "mail_id", m.ID, "to", m.To, "err", err, "record_err", rerr)
		return fmt.Errorf("notify: record mail %d failed: %w", m.ID, rerr)
	}
	if final {
		c.log.Error("mail failed for good", "mail_id", m.ID, "to", m.To,
			"attempt", attempts, "err", text)
	} else {
		c.log.Warn("mail attempt failed", "mail_id", m.ID, "to", m.To,
			"attempt", attempts, "next", next, "connection", connection, "err", text)
	}
	return nil
}
