// Package desk is the support desk: customer mail in, tickets, and the
// desk's mail out. A mail from a contract's technical contact opens a ticket
// or continues one (the [ENM-T-NNNNNN] tag in the subject, or In-Reply-To/
// References naming one of the ticket's mails); mail from anyone else opens
// nothing. New matters on contracts with a yearly allowance are counted
// only after the customer confirms them with the word the auto-reply names;
// contracts with unlimited inquiries have one investigated at a time. Every
// change of a ticket and the mails it sends are stored in one transaction,
// so the outbox sends exactly what the tickets say.
package desk

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/mail"
	"strings"
	"time"

	"golang.org/x/text/width"

	"github.com/enmei-project/enmei/internal/bizcal"
	"github.com/enmei-project/enmei/internal/blob"
	"github.com/enmei-project/enmei/internal/entitle"
	"github.com/enmei-project/enmei/internal/errs"
	"github.com/enmei-project/enmei/internal/mailin"
	"github.com/enmei-project/enmei/internal/notify"
	"github.com/enmei-project/enmei/internal/store"
	"github.com/enmei-project/enmei/internal/support"
)

// Store is what the desk needs of the store.
type Store interface {
	store.Desk
	Contract(ctx context.Context, supportID string) (store.Contract, error)
	ListContracts(ctx context.Context) ([]store.Contract, error)
	Setting(ctx context.Context, name string) ([]byte, error)
	PutSetting(ctx context.Context, name string, value []byte) error
	EnqueueMail(ctx context.Context, mails ...store.Mail) error
}

// Config is the desk's settings, shared by every replica and command.
type Config struct {
	// Address is the desk's mail address: customers write to it and its
	// mails come from it.
	Address string `json:"address"`
	// Name is the display name of Address.
	Name string `json:"name,omitempty"`
	// FirstResponse is the first-response target in support hours.
	FirstResponse Duration `json:"first_response"`
	// RefuseStrangers answers mail from unknown senders with a refusal.
	// Off by default: senders can be forged, and refusals to forged
	// senders are backscatter.
	RefuseStrangers bool `json:"refuse_strangers,omitempty"`
	// MaxAttachment is the largest attachment kept, in bytes.
	MaxAttachment int64 `json:"max_attachment,omitempty"`
}

// Duration is a time.Duration written as "4h" in JSON.
type Duration time.Duration

// MarshalJSON implements json.Marshaler.
func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(time.Duration(d).String()) }

// UnmarshalJSON implements json.Unmarshaler.
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return err
	}
	v, err := time.ParseDuration(s)
	*d = Duration(v)
	return err
}

// Defaults of a fresh desk.
const (
	DefaultAddress       = "support@localhost"
	DefaultName          = "enmei サポート窓口"
	DefaultFirstResponse = 4 * time.Hour
	DefaultMaxAttachment = 20 << 20
	configSetting        = "support/config"
)

// LoadConfig returns the desk's settings with defaults filled in.
func LoadConfig(ctx context.Context, st Store) (Config, error) {
	c := Config{Address: DefaultAddress, Name: DefaultName, FirstResponse: Duration(DefaultFirstResponse), MaxAttachment: DefaultMaxAttachment}
	b, err := st.Setting(ctx, configSetting)
	if errs.Is(err, errs.NotFound) {
		return c, nil
	}
	if err != nil {
		return c, err
	}
	if err := json.Unmarshal(b, &c); err != nil {
		return c, fmt.Errorf("reading the support desk settings: %w", err)
	}
	return c, nil
}

// SaveConfig checks and stores the desk's settings.
func SaveConfig(ctx context.Context, st Store, c Config) error {
	if a, err := mail.ParseAddress(c.Address); err != nil || a.Address != c.Address {
		return errs.E(errs.Invalid, "support address %q is not one e-mail address", c.Address)
	}
	if c.FirstResponse <= 0 || time.Duration(c.FirstResponse) > 400*time.Hour {
		return errs.E(errs.Invalid, "the first-response target must be between 1m and 400h of support time, not %s", time.Duration(c.FirstResponse))
	}
	if c.MaxAttachment < 1<<10 || c.MaxAttachment > 1<<30 {
		return errs.E(errs.Invalid, "the attachment limit must be between 1 KiB and 1 GiB")
	}
	b, err := json.Marshal(c)
	if err != nil {
		return err
	}
	return st.PutSetting(ctx, configSetting, b)
}

// Desk handles mail in and tickets.
type Desk struct {
	Store Store
	Blobs blob.Store
	// Calendar returns the vendor's business calendar (vendor holidays).
	Calendar func(ctx context.Context) (bizcal.Calendar, error)
	Now      func() time.Time
	Log      *slog.Logger
	// Config overrides the stored settings when not nil (tests, serve flags).
	Config *Config
}

func (d *Desk) now() time.Time {
	if d.Now == nil {
		return time.Now()
	}
	return d.Now()
}

func (d *Desk) log() *slog.Logger {
	if d.Log == nil {
		return slog.Default()
	}
	return d.Log
}

func (d *Desk) config(ctx context.Context) (Config, error) {
	if d.Config != nil {
		return *d.Config, nil
	}
	return LoadConfig(ctx, d.Store)
}

func (d *Desk) clock(ctx context.Context) (support.Clock, error) {
	if d.Calendar == nil {
		return support.Clock{}, nil
	}
	cal, err := d.Calendar(ctx)
	return support.Clock{Cal: cal}, err
}

// Actions a Result reports.
const (
	Opened    = "opened"    // a new ticket
	Continued = "continued" // a follow-up on a ticket
	Confirmed = "confirmed" // a follow-up that confirmed a new matter
	Duplicate = "duplicate" // a message already received
	Dropped   = "dropped"   // nothing opened (stranger, expired contract, automatic mail)
)

// Result says what Receive did with a message.
type Result struct {
	Action string
	Ticket int64  // 0 when dropped
	Reason string // why it was dropped
}

// ErrTooLarge is returned for a message over the size limit.
var ErrTooLarge = mailin.ErrTooLarge

// MaxMessage is the largest message the desk reads.
const MaxMessage = 25 << 20

// Receive handles one inbound message. It returns an error only when the
// message could not be handled and should be retried or refused (too
// large, the store unreachable); mail that opens nothing is a Result.
func (d *Desk) Receive(ctx context.Context, r io.Reader) (Result, error) {
	cfg, err := d.config(ctx)
	if err != nil {
		return Result{}, err
	}
	m, err := mailin.Parse(r, mailin.Limits{MaxMessage: MaxMessage, MaxAttachment: cfg.MaxAttachment})
	if errors.Is(err, mailin.ErrTooLarge) {
		return Result{}, err
	}
	if err != nil {
		d.log().Warn("support mail dropped: not a readable message", "err", err)
		return Result{Action: Dropped, Reason: err.Error()}, nil
	}
	log := d.log().With("from", m.From, "message_id", m.MessageID, "subject", m.Subject)
	if m.MessageID != "" {
		if t, err := d.Store.TicketByMessageID(ctx, []string{m.MessageID}); err == nil {
			log.Info("support mail already received", "ticket", mailin.FormatTag(t.Number))
			return Result{Action: Duplicate, Ticket: t.Number}, nil
		} else if !errs.Is(err, errs.NotFound) {
			return Result{}, err
		}
	}
	if m.AutoSubmitted {
		log.Info("support mail dropped: sent automatically (auto-reply, list or bulk mail)")
		return Result{Action: Dropped, Reason: "automatic mail"}, nil
	}
	t, err := d.threadOf(ctx, m)
	if err != nil && !errs.Is(err, errs.NotFound) {
		return Result{}, err
	}
	if err == nil {
		return d.followUp(ctx, cfg, t, m, log)
	}
	return d.newMatter(ctx, cfg, m, log)
}

// threadOf finds the ticket a message continues: its subject's tag, else
// the messages it replies to.
func (d *Desk) threadOf(ctx context.Context, m *mailin.Message) (store.Ticket, error) {
	if n, ok := mailin.Tag(m.Subject); ok {
		if t, err := d.Store.Ticket(ctx, n); err == nil || !errs.Is(err, errs.NotFound) {
			return t, err
		}
	}
	ids := append(append([]string{}, m.InReplyTo...), m.References...)
	return d.Store.TicketByMessageID(ctx, ids)
}

// contactOn is the technical contact of a contract in force on day.
func (d *Desk) contactOn(ctx context.Context, c store.Contract, day string) (string, error) {
	changes, err := d.Store.ContactChanges(ctx, c.SupportID)
	if err != nil {
		return "", err
	}
	return support.ContactOn(c.Contact, toSupport(changes), day), nil
}

func toSupport(cs []store.ContactChange) []support.ContactChange {
	out := make([]support.ContactChange, len(cs))
	for i, c := range cs {
		out[i] = support.ContactChange{Email: c.Email, Effective: c.Effective, RequestedAt: c.RequestedAt}
	}
	return out
}

func (d *Desk) today() string { return bizcal.DateOf(d.now()).String() }

// sender checks that a message comes from the contact of a contract that
// is valid now: "" and nil when it does, else the reason it is dropped.
func (d *Desk) sender(ctx context.Context, c store.Contract, from string) (string, error) {
	contact, err := d.contactOn(ctx, c, d.today())
	if err != nil {
		return "", err
	}
	if !strings.EqualFold(contact, from) {
		return fmt.Sprintf("%s is not the technical contact of %s", from, c.SupportID), nil
	}
	if err := entitle.CheckValid(c, d.now()); err != nil {
		return fmt.Sprintf("contract %s is not valid: %v", c.SupportID, err), nil
	}
	return "", nil
}

func (d *Desk) followUp(ctx context.Context, cfg Config, t store.Ticket, m *mailin.Message, log *slog.Logger) (Result, error) {
	c, err := d.Store.Contract(ctx, t.SupportID)
	if err != nil {
		return Result{}, err
	}
	if why, err := d.sender(ctx, c, m.From); err != nil {
		return Result{}, err
	} else if why != "" {
		return d.drop(ctx, cfg, c.Language(), m, why, log)
	}
	atts, err := d.keep(ctx, m)
	if err != nil {
		return Result{}, err
	}
	clk, err := d.clock(ctx)
	if err != nil {
		return Result{}, err
	}
	now := d.now()
	action := Continued
	t, err = d.Store.ChangeTicket(ctx, t.Number, func(t *store.Ticket, used func(string) (int, error)) (store.TicketChange, error) {
		in := inMessage(m, atts, now)
		ch := store.TicketChange{Messages: []store.TicketMessage{in}}
		if t.Status == store.TicketClosed {
			t.Status, t.ClosedAt = store.TicketOpen, time.Time{}
		}
		if t.Status == store.TicketWaiting && t.Waiting == store.WaitConfirmation && confirms(m.Text, t.ConfirmWord) {
			action = Confirmed
			txt, err := d.consume(cfg, clk, c, t, used)
			if err != nil {
				return ch, err
			}
			a, err := d.answer(ctx, cfg, c, *t, &in, txt)
			return merge(ch, a), err
		}
		return ch, nil
	})
	if err != nil {
		return Result{}, err
	}
	log.Info("support mail", "action", action, "ticket", mailin.FormatTag(t.Number))
	return Result{Action: action, Ticket: t.Number}, nil
}

// confirms reports whether the words the customer wrote (not what they
// quoted: the auto-reply they answer carries the word too) include word.
func confirms(body, word string) bool {
	if word == "" {
		return false
	}
	own := strings.ToUpper(width.Fold.String(mailin.NewText(body)))
	return strings.Contains(own, strings.ToUpper(word))
}

// consume counts a confirmed new matter against the contract year it is
// confirmed in, or, with the allowance used up, leaves it waiting for the
// vendor. It returns the answer telling the customer which.
func (d *Desk) consume(cfg Config, clk support.Clock, c store.Contract, t *store.Ticket, used func(string) (int, error)) (text, error) {
	now := d.now()
	ys, ye, err := support.ContractYear(c.Start, bizcal.DateOf(now).String())
	if err != nil {
		return text{}, err
	}
	u, err := used(ys)
	if err != nil {
		return text{}, err
	}
	a := support.Allowance{Total: c.Allowance(), Used: u}
	if !a.CanOpen() {
		t.Waiting = store.WaitAllowance
		return usedUp(c.Language(), a, ys, ye), nil
	}
	t.Status, t.Waiting, t.Consumed, t.YearStart = store.TicketOpen, "", true, ys
	t.DueAt = clk.Add(now, time.Duration(cfg.FirstResponse))
	a.Used++
	return confirmedText(c.Language(), a, ys, ye, t.DueAt), nil
}

func (d *Desk) newMatter(ctx context.Context, cfg Config, m *mailin.Message, log *slog.Logger) (Result, error) {
	cs, err := d.Store.ContractsByContact(ctx, m.From)
	if err != nil {
		return Result{}, err
	}
	var pick *store.Contract
	why := m.From + " is not the technical contact of any contract"
	for i := range cs {
		reason, err := d.sender(ctx, cs[i], m.From)
		if err != nil {
			return Result{}, err
		}
		if reason != "" {
			why = reason
			continue
		}
		// A contact of several contracts names the one it means by its
		// support ID; otherwise the newest contract takes the matter.
		if pick == nil || strings.Contains(m.Subject+"\n"+m.Text, cs[i].SupportID) {
			pick = &cs[i]
		}
	}
	if pick == nil {
		lang := "ja"
		if len(cs) > 0 {
			lang = cs[0].Language()
		}
		return d.drop(ctx, cfg, lang, m, why, log)
	}
	c := *pick
	atts, err := d.keep(ctx, m)
	if err != nil {
		return Result{}, err
	}
	clk, err := d.clock(ctx)
	if err != nil {
		return Result{}, err
	}
	now := d.now()
	t := store.Ticket{SupportID: c.SupportID, Subject: m.Subject, Lang: c.Language(), Contact: m.From, OpenedAt: now,
		DueAt: clk.Add(now, time.Duration(cfg.FirstResponse))}
	if c.Allowance() == entitle.Unlimited {
		t.Status = store.TicketOpen
	} else {
		t.Status, t.Waiting, t.ConfirmWord = store.TicketWaiting, store.WaitConfirmation, confirmWord()
	}
	t, err = d.Store.AddTicket(ctx, t, func(t store.Ticket) (store.TicketChange, error) {
		in := inMessage(m, atts, now)
		txt, err := d.openedText(ctx, c, t)
		if err != nil {
			return store.TicketChange{}, err
		}
		a, err := d.answer(ctx, cfg, c, t, &in, txt)
		return merge(store.TicketChange{Messages: []store.TicketMessage{in}}, a), err
	})
	if errors.Is(err, errUsedUp) {
		t, err = d.openUsedUp(ctx, cfg, c, m, atts, now, clk)
	}
	if err != nil {
		return Result{}, err
	}
	log.Info("support mail", "action", Opened, "ticket", mailin.FormatTag(t.Number), "support_id", c.SupportID)
	return Result{Action: Opened, Ticket: t.Number}, nil
}

var errUsedUp = errors.New("allowance used up")

// openUsedUp opens a matter beyond the allowance: waiting, consuming
// nothing, until the vendor decides; the customer is told.
func (d *Desk) openUsedUp(ctx context.Context, cfg Config, c store.Contract, m *mailin.Message, atts []store.TicketAttachment, now time.Time, clk support.Clock) (store.Ticket, error) {
	ys, ye, err := support.ContractYear(c.Start, bizcal.DateOf(now).String())
	if err != nil {
		return store.Ticket{}, err
	}
	t := store.Ticket{SupportID: c.SupportID, Subject: m.Subject, Lang: c.Language(), Contact: m.From, OpenedAt: now,
		DueAt: clk.Add(now, time.Duration(cfg.FirstResponse)), Status: store.TicketWaiting, Waiting: store.WaitAllowance}
	return d.Store.AddTicket(ctx, t, func(t store.Ticket) (store.TicketChange, error) {
		in := inMessage(m, atts, now)
		used, err := d.Store.InquiriesUsed(ctx, c.SupportID, ys)
		if err != nil {
			return store.TicketChange{}, err
		}
		a, err := d.answer(ctx, cfg, c, t, &in, usedUp(c.Language(), support.Allowance{Total: c.Allowance(), Used: used}, ys, ye))
		return merge(store.TicketChange{Messages: []store.TicketMessage{in}}, a), err
	})
}

// openedText is the auto-reply to a new matter: the confirmation request
// with what is left, or for unlimited contracts the place in the queue.
// With the allowance used up it returns errUsedUp.
func (d *Desk) openedText(ctx context.Context, c store.Contract, t store.Ticket) (text, error) {
	if c.Allowance() == entitle.Unlimited {
		q, err := d.Queue(ctx, c.SupportID)
		if err != nil {
			return text{}, err
		}
		pos := len(q) + 1
		for i, x := range q {
			if x.Number == t.Number {
				pos = i + 1
			}
		}
		return queuedText(c.Language(), pos), nil
	}
	a, err := d.Allowance(ctx, c)
	if err != nil {
		return text{}, err
	}
	if !(support.Allowance{Total: c.Allowance(), Used: a.Used}).CanOpen() {
		return text{}, errUsedUp
	}
	return confirmText(c.Language(), a, t.ConfirmWord), nil
}

func inMessage(m *mailin.Message, atts []store.TicketAttachment, now time.Time) store.TicketMessage {
	return store.TicketMessage{Direction: "in", MessageID: m.MessageID, From: m.From, Subject: m.Subject, Text: m.Text,
		Attachments: atts, At: now}
}

// keep stores a message's attachments as blobs.
func (d *Desk) keep(ctx context.Context, m *mailin.Message) ([]store.TicketAttachment, error) {
	var out []store.TicketAttachment
	for _, a := range m.Attachments {
		ta := store.TicketAttachment{Filename: a.Filename, ContentType: a.ContentType, Size: a.Size, Dropped: a.Dropped}
		if !a.Dropped && d.Blobs != nil {
			info, err := d.Blobs.Put(ctx, strings.NewReader(string(a.Data)))
			if err != nil {
				return nil, fmt.Errorf("storing attachment %s: %w", a.Filename, err)
			}
			ta.Blob = info.Sum
		}
		out = append(out, ta)
	}
	return out, nil
}

// drop logs a message that opens nothing and, when the vendor turned
// refusals on, tells the sender why in general terms.
func (d *Desk) drop(ctx context.Context, cfg Config, lang string, m *mailin.Message, why string, log *slog.Logger) (Result, error) {
	log.Warn("support mail dropped", "reason", why)
	if cfg.RefuseStrangers && m.From != "" {
		txt := refusalText(lang)
		l := notify.Letter{From: from(cfg), To: m.From, Subject: txt.subject + ": " + m.Subject, Text: txt.body, Lang: lang,
			InReplyTo: m.MessageID}
		mm, err := notify.NewMail(l)
		if err != nil {
			return Result{}, err
		}
		mm.CreatedAt, mm.NextAt = d.now(), d.now()
		if err := d.Store.EnqueueMail(ctx, mm); err != nil {
			return Result{}, err
		}
	}
	return Result{Action: Dropped, Reason: why}, nil
}

func from(cfg Config) string {
	if cfg.Name == "" {
		return cfg.Address
	}
	return (&mail.Address{Name: cfg.Name, Address: cfg.Address}).String()
}

// confirmWord is a word nobody types by accident: CONFIRM- and four
// characters without look-alikes.
func confirmWord() string {
	const alphabet = "23456789ABCDEFGHJKMNPQRSTVWXYZ"
	b := make([]byte, 4)
	rand.Read(b)
	for i := range b {
		b[i] = alphabet[int(b[i])%len(alphabet)]
	}
	return "CONFIRM-" + string(b)
}
