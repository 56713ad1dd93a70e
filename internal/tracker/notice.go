package tracker

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/enmei-project/enmei/internal/advisory"
	"github.com/enmei-project/enmei/internal/errs"
	"github.com/enmei-project/enmei/internal/notify"
	"github.com/enmei-project/enmei/internal/store"
)

// NoticeStore is what the notifier reads and writes.
type NoticeStore interface {
	CVEChanges(ctx context.Context, after int64, limit int) ([]advisory.Change, error)
	ActiveSubscriptions(ctx context.Context) ([]store.Subscription, error)
	Webhooks(ctx context.Context) ([]store.Webhook, error)
	QueueNotices(ctx context.Context, cursor string, from, to []byte, mails []store.Mail, ds []store.Delivery) (bool, error)
	Setting(ctx context.Context, name string) ([]byte, error)
	PutSettingIfAbsent(ctx context.Context, name string, value []byte) ([]byte, error)
}

// Settings of the notifier.
const (
	cursorSetting = "tracker/notified"
	keySetting    = "tracker/subscription-key"
)

// Notifier turns tracker changes (the CVE history, which every status
// change and release writes in its own transaction) into mail for the
// subscribers whose products and statuses match, and signed webhook
// deliveries. It follows the history with a cursor, so a notice is never
// lost to a crash or an SMTP outage: mail waits in the outbox until the
// server takes it. Queueing and moving the cursor are one transaction, so
// a notice is queued once, also with several replicas each running one.
type Notifier struct {
	Store NoticeStore
	Now   func() time.Time
	Log   *slog.Logger
	// Compose writes one subscriber's mail about the changes (the portal
	// owns the texts in both languages).
	Compose func(ctx context.Context, sub store.Subscription, changes []advisory.Change) (notify.Letter, error)
	// PublicURL makes the links in webhook bodies.
	PublicURL string
	// Queued is told that mail was queued (the sender's Wake).
	Queued func()
	// Every is how often the history is read (default 5 s).
	Every time.Duration
}

// Event is the JSON body of a webhook delivery: one change of a CVE's
// status for a product.
type Event struct {
	Type      string    `json:"type"` // "cve.changed"
	CVE       string    `json:"cve"`
	Product   string    `json:"product"`
	From      string    `json:"from"`
	To        string    `json:"to"`
	Statement string    `json:"statement,omitempty"`
	Source    string    `json:"source"`
	At        time.Time `json:"at"`
	URL       string    `json:"url"`
}

// Run notifies until ctx ends.
func (n *Notifier) Run(ctx context.Context) {
	every := n.Every
	if every == 0 {
		every = 5 * time.Second
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		if _, err := n.Once(ctx); err != nil && ctx.Err() == nil {
			n.Log.Warn("tracker notices: will try again", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func matches(list []string, v string) bool {
	if len(list) == 0 {
		return true
	}
	for _, x := range list {
		if x == v {
			return true
		}
	}
	return false
}

// Once handles the changes since the cursor and returns how many.
func (n *Notifier) Once(ctx context.Context) (int, error) {
	raw, err := n.Store.Setting(ctx, cursorSetting)
	if errs.Is(err, errs.NotFound) {
		// The first run starts at the present: the history from before
		// notices existed is not news.
		latest := int64(0)
		for {
			page, err := n.Store.CVEChanges(ctx, latest, 1000)
			if err != nil {
				return 0, err
			}
			if len(page) == 0 {
				break
			}
			latest = page[len(page)-1].Seq
		}
		raw, err = n.Store.PutSettingIfAbsent(ctx, cursorSetting, []byte(strconv.FormatInt(latest, 10)))
	}
	if err != nil {
		return 0, err
	}
	cursor, err := strconv.ParseInt(string(raw), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("the tracker notice cursor %q: %w", raw, err)
	}
	changes, err := n.Store.CVEChanges(ctx, cursor, 500)
	if err != nil || len(changes) == 0 {
		return 0, err
	}
	subs, err := n.Store.ActiveSubscriptions(ctx)
	if err != nil {
		return 0, err
	}
	hooks, err := n.Store.Webhooks(ctx)
	if err != nil {
		return 0, err
	}
	now := n.Now()
	var mails []store.Mail
	for _, sub := range subs {
		var mine []advisory.Change
		for _, c := range changes {
			if matches(sub.Products, c.Product) && matches(sub.Statuses, string(c.To)) {
				mine = append(mine, c)
			}
		}
		if len(mine) == 0 || n.Compose == nil {
			continue
		}
		l, err := n.Compose(ctx, sub, mine)
		if err != nil {
			return 0, err
		}
		l.Date = now
		m, err := notify.NewMail(l)
		if err != nil {
			n.Log.Warn("tracker notice not composed", "subscription", sub.ID, "err", err)
			continue
		}
		mails = append(mails, m)
	}
	var deliveries []store.Delivery
	for _, h := range hooks {
		for _, c := range changes {
			if !matches(h.Products, c.Product) || !matches(h.Statuses, string(c.To)) {
				continue
			}
			body, _ := json.Marshal(Event{Type: "cve.changed", CVE: c.CVE, Product: c.Product, From: string(c.From), To: string(c.To),
				Statement: c.Statement, Source: c.Source, At: c.At, URL: n.PublicURL + "/security/cve/" + c.CVE})
			deliveries = append(deliveries, store.Delivery{WebhookID: h.ID, Body: body, CreatedAt: now, NextAt: now})
		}
	}
	// Every replica runs a notifier: the one whose cursor move commits
	// queues the notices, the others find the cursor moved and stop.
	next := []byte(strconv.FormatInt(changes[len(changes)-1].Seq, 10))
	queued, err := n.Store.QueueNotices(ctx, cursorSetting, raw, next, mails, deliveries)
	if err != nil || !queued {
		return 0, err
	}
	if len(mails) > 0 && n.Queued != nil {
		n.Queued()
	}
	return len(changes), nil
}

// SubscriptionKey returns the key that signs subscription links, made once
// and shared by every replica. It is read first: making it is a write,
// which pages and mails should not cost.
func SubscriptionKey(ctx context.Context, st interface {
	Setting(ctx context.Context, name string) ([]byte, error)
	PutSettingIfAbsent(ctx context.Context, name string, value []byte) ([]byte, error)
}) ([]byte, error) {
	k, err := st.Setting(ctx, keySetting)
	if err == nil || !errs.Is(err, errs.NotFound) {
		return k, err
	}
	k = make([]byte, 32)
	if _, err := rand.Read(k); err != nil {
		return nil, err
	}
	return st.PutSettingIfAbsent(ctx, keySetting, k)
}

// LinkToken signs a subscription link: purpose ("confirm", "unsubscribe"),
// the subscription ID and, for links that expire, the expiry.
func LinkToken(key []byte, purpose, id string, expires int64) string {
	m := hmac.New(sha256.New, key)
	fmt.Fprintf(m, "%s\x00%s\x00%d", purpose, id, expires)
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// CheckLinkToken compares in constant time.
func CheckLinkToken(key []byte, purpose, id string, expires int64, token string) bool {
	return hmac.Equal([]byte(LinkToken(key, purpose, id, expires)), []byte(token))
}

// WebhookSender delivers the webhook outbox: POST with the body signed as
// HMAC-SHA256 over "TIMESTAMP.BODY" with the webhook's secret, retried with
// backoff until a 2xx answer.
type WebhookSender struct {
	Store interface {
		Webhooks(ctx context.Context) ([]store.Webhook, error)
		ClaimDeliveries(ctx context.Context, now, lease time.Time, limit int) ([]store.Delivery, error)
		FinishDelivery(ctx context.Context, d store.Delivery) error
	}
	Client *http.Client
	Now    func() time.Time
	Log    *slog.Logger
	// MaxAttempts before a delivery is given up (default 12).
	MaxAttempts int
	Every       time.Duration
}

// Signature is the X-Enmei-Signature value of a body sent at ts.
func Signature(secret string, ts int64, body []byte) string {
	m := hmac.New(sha256.New, []byte(secret))
	fmt.Fprintf(m, "%d.", ts)
	m.Write(body)
	return "sha256=" + hex.EncodeToString(m.Sum(nil))
}

// Run delivers until ctx ends.
func (w *WebhookSender) Run(ctx context.Context) {
	every := w.Every
	if every == 0 {
		every = 5 * time.Second
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		if err := w.Once(ctx); err != nil && ctx.Err() == nil {
			w.Log.Warn("webhook deliveries: will try again", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Once sends what is due.
func (w *WebhookSender) Once(ctx context.Context) error {
	now := w.Now()
	ds, err := w.Store.ClaimDeliveries(ctx, now, now.Add(2*time.Minute), 50)
	if err != nil || len(ds) == 0 {
		return err
	}
	hooks, err := w.Store.Webhooks(ctx)
	if err != nil {
		return err
	}
	byID := map[string]store.Webhook{}
	for _, h := range hooks {
		byID[h.ID] = h
	}
	max := w.MaxAttempts
	if max == 0 {
		max = 12
	}
	for _, d := range ds {
		h, ok := byID[d.WebhookID]
		d.Attempts++
		if !ok {
			d.Status, d.LastError = notify.StatusFailed, "the webhook was removed"
		} else if err := w.post(ctx, h, d.Body); err != nil {
			d.LastError = err.Error()
			d.NextAt = w.Now().Add(notify.DefaultBackoff(d.Attempts))
			if d.Attempts >= max {
				d.Status = notify.StatusFailed
			}
			w.Log.Warn("webhook delivery failed", "webhook", h.ID, "attempt", d.Attempts, "err", err)
		} else {
			d.Status, d.LastError, d.SentAt = notify.StatusSent, "", w.Now()
		}
		if err := w.Store.FinishDelivery(ctx, d); err != nil {
			return err
		}
	}
	return nil
}

func (w *WebhookSender) post(ctx context.Context, h store.Webhook, body []byte) error {
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, h.URL, bytes.NewReader(body))
	if err != nil {
		return err
	}
	ts := w.Now().Unix()
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "enmei-webhook")
	req.Header.Set("X-Enmei-Event", "cve.changed")
	req.Header.Set("X-Enmei-Timestamp", strconv.FormatInt(ts, 10))
	req.Header.Set("X-Enmei-Signature", Signature(h.Secret, ts, body))
	client := w.Client
	if client == nil {
		client = http.DefaultClient
	}
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return fmt.Errorf("%s answered %s", h.URL, resp.Status)
	}
	return nil
}
