// Package notify is enmei's outgoing mail: it composes messages (one-time
// login links, licence notices) as plain, 7-bit-safe RFC 5322 mail that
// Japanese mail clients display correctly, and delivers them from a durable
// outbox over SMTP. Callers enqueue a Mail made by NewMail in the same
// transaction as the change it reports; a Sender on every replica then works
// through the outbox, with the Outbox's claims making sure each mail is taken
// by one replica only, and retries temporary failures with backoff. Nothing
// but the Outbox survives a restart, and nothing else needs to.
package notify

import (
	"context"
	"time"
)

// Mail is one message in the outbox.
type Mail struct {
	ID        int64
	To        string    // one envelope recipient address
	Subject   string    // decoded subject, for listings
	Message   []byte    // the complete RFC 5322 message (CRLF line ends), as Compose made it
	Status    string    // StatusQueued, StatusSent or StatusFailed
	Attempts  int       // failed attempts so far
	LastError string    // the error of the last failed attempt
	CreatedAt time.Time // when the mail was composed
	NextAt    time.Time // when the next attempt is due (queued mail)
	SentAt    time.Time // zero until sent
}

// The states of a Mail.
const (
	StatusQueued = "queued"
	StatusSent   = "sent"
	StatusFailed = "failed"
)

// Outbox is the durable store of mail that the Sender works through. Every
// replica may run a Sender: ClaimMail must hand each due mail to one of them.
type Outbox interface {
	// ClaimMail returns up to limit queued mails whose NextAt <= now, oldest
	// first, and sets their NextAt to until, so no other sender takes them
	// before until (a crashed sender's claims come back by themselves).
	ClaimMail(ctx context.Context, now, until time.Time, limit int) ([]Mail, error)
	// MailSent marks a mail sent at at.
	MailSent(ctx context.Context, id int64, at time.Time) error
	// MailFailed records a failed attempt (Attempts+1, LastError=errText):
	// queued again at next, or StatusFailed for good when final.
	MailFailed(ctx context.Context, id int64, errText string, next time.Time, final bool) error
}
