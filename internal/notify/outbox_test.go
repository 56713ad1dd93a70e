package notify

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"
)

// memOutbox is an in-memory Outbox that keeps the interface's contract; it
// also counts MailSent calls, to catch double sends.
type memOutbox struct {
	mu     sync.Mutex
	mails  []Mail
	sent   map[int64]int // MailSent calls per mail
	claims int           // ClaimMail calls that returned mail
}

func (o *memOutbox) add(m Mail) int64 {
	o.mu.Lock()
	defer o.mu.Unlock()
	m.ID = int64(len(o.mails) + 1)
	o.mails = append(o.mails, m)
	return m.ID
}

// enqueue composes and queues n letters made by letter(i), due at due.
func (o *memOutbox) enqueue(t testing.TB, n int, due time.Time, letter func(i int) Letter) {
	t.Helper()
	for i := range n {
		m, err := NewMail(letter(i))
		if err != nil {
			t.Fatal(err)
		}
		m.CreatedAt, m.NextAt = due, due
		o.add(m)
	}
}

func (o *memOutbox) get(id int64) Mail {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.mails[id-1]
}

func (o *memOutbox) count(status string) int {
	o.mu.Lock()
	defer o.mu.Unlock()
	n := 0
	for _, m := range o.mails {
		if m.Status == status {
			n++
		}
	}
	return n
}

func (o *memOutbox) ClaimMail(ctx context.Context, now, until time.Time, limit int) ([]Mail, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	var due []*Mail
	for i := range o.mails {
		if m := &o.mails[i]; m.Status == StatusQueued && !m.NextAt.After(now) {
			due = append(due, m)
		}
	}
	slices.SortFunc(due, func(a, b *Mail) int {
		return cmp.Or(a.CreatedAt.Compare(b.CreatedAt), cmp.Compare(a.ID, b.ID))
	})
	var out []Mail
	for _, m := range due[:min(limit, len(due))] {
		m.NextAt = until
		out = append(out, *m)
	}
	if len(out) > 0 {
		o.claims++
	}
	return out, nil
}

func (o *memOutbox) MailSent(ctx context.Context, id int64, at time.Time) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	if id < 1 || int(id) > len(o.mails) {
		return fmt.Errorf("no mail %d", id)
	}
	if o.sent == nil {
		o.sent = map[int64]int{}
	}
	o.sent[id]++
	m := &o.mails[id-1]
	m.Status, m.SentAt = StatusSent, at
	return nil
}

func (o *memOutbox) MailFailed(ctx context.Context, id int64, errText string, next time.Time, final bool) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	if id < 1 || int(id) > len(o.mails) {
		return fmt.Errorf("no mail %d", id)
	}
	m := &o.mails[id-1]
	m.Attempts++
	m.LastError = errText
	if final {
		m.Status = StatusFailed
	} else {
		m.NextAt = next
	}
	return nil
}

// clock is a settable Sender.Now.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Date(2026, 4, 1, 9, 0, 0, 0, jst)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

var jst = time.FixedZone("JST", 9*60*60)
