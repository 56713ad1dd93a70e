package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"

	"github.com/enmei-project/enmei/internal/errs"
	"github.com/enmei-project/enmei/internal/notify"
	"github.com/enmei-project/enmei/internal/store"
)

func splitList(s string) []string {
	if s == "" {
		return nil
	}
	return strings.Split(s, ",")
}

func optTime(v int64) time.Time {
	if v == 0 {
		return time.Time{}
	}
	return fromMS(v)
}

func optMS(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return ms(t)
}

const subCols = `id, email, name, company, lang, products, statuses, created_at, confirmed_at, unsubscribed_at`

func scanSub(sc scanner) (store.Subscription, error) {
	var s store.Subscription
	var products, statuses string
	var created, confirmed, unsub int64
	err := sc.Scan(&s.ID, &s.Email, &s.Name, &s.Company, &s.Lang, &products, &statuses, &created, &confirmed, &unsub)
	s.Products, s.Statuses = splitList(products), splitList(statuses)
	s.CreatedAt, s.ConfirmedAt, s.UnsubscribedAt = fromMS(created), optTime(confirmed), optTime(unsub)
	return s, err
}

// AddSubscription implements store.Subscriptions.
func (s *DB) AddSubscription(ctx context.Context, sub store.Subscription, mail store.Mail) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, s.q(`INSERT INTO subscriptions (`+subCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, 0, 0)`),
			sub.ID, sub.Email, sub.Name, sub.Company, sub.Lang, strings.Join(sub.Products, ","), strings.Join(sub.Statuses, ","), ms(sub.CreatedAt))
		if err != nil {
			return fmt.Errorf("storing a subscription: %w", err)
		}
		return s.enqueue(ctx, tx, mail)
	})
}

// Subscription implements store.Subscriptions.
func (s *DB) Subscription(ctx context.Context, id string) (store.Subscription, error) {
	sub, err := scanSub(s.db.QueryRowContext(ctx, s.q(`SELECT `+subCols+` FROM subscriptions WHERE id = ?`), id))
	return sub, notFound(err, "no such subscription")
}

func (s *DB) stampSubscription(ctx context.Context, col, id string, at time.Time) error {
	res, err := s.db.ExecContext(ctx, s.q(`UPDATE subscriptions SET `+col+` = CASE WHEN `+col+` = 0 THEN ? ELSE `+col+` END WHERE id = ?`), ms(at), id)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return errs.E(errs.NotFound, "no such subscription")
	}
	return nil
}

// ConfirmSubscription implements store.Subscriptions.
func (s *DB) ConfirmSubscription(ctx context.Context, id string, at time.Time) error {
	return s.stampSubscription(ctx, "confirmed_at", id, at)
}

// Unsubscribe implements store.Subscriptions.
func (s *DB) Unsubscribe(ctx context.Context, id string, at time.Time) error {
	return s.stampSubscription(ctx, "unsubscribed_at", id, at)
}

// ActiveSubscriptions implements store.Subscriptions.
func (s *DB) ActiveSubscriptions(ctx context.Context) ([]store.Subscription, error) {
	return queryAll(ctx, s, `SELECT `+subCols+` FROM subscriptions WHERE confirmed_at <> 0 AND unsubscribed_at = 0 ORDER BY created_at, id`, nil, scanSub)
}

const hookCols = `id, url, secret, products, statuses, created_at`

func scanHook(sc scanner) (store.Webhook, error) {
	var w store.Webhook
	var products, statuses string
	var created int64
	err := sc.Scan(&w.ID, &w.URL, &w.Secret, &products, &statuses, &created)
	w.Products, w.Statuses, w.CreatedAt = splitList(products), splitList(statuses), fromMS(created)
	return w, err
}

// AddWebhook implements store.Subscriptions.
func (s *DB) AddWebhook(ctx context.Context, w store.Webhook) error {
	_, err := s.db.ExecContext(ctx, s.q(`INSERT INTO webhooks (`+hookCols+`) VALUES (?, ?, ?, ?, ?, ?)`),
		w.ID, w.URL, w.Secret, strings.Join(w.Products, ","), strings.Join(w.Statuses, ","), ms(w.CreatedAt))
	return err
}

// Webhooks implements store.Subscriptions.
func (s *DB) Webhooks(ctx context.Context) ([]store.Webhook, error) {
	return queryAll(ctx, s, `SELECT `+hookCols+` FROM webhooks ORDER BY created_at, id`, nil, scanHook)
}

// DeleteWebhook implements store.Subscriptions.
func (s *DB) DeleteWebhook(ctx context.Context, id string) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, s.q(`DELETE FROM webhooks WHERE id = ?`), id)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return errs.E(errs.NotFound, "no webhook %s: see enmeid webhook list", id)
		}
		_, err = tx.ExecContext(ctx, s.q(`DELETE FROM webhook_deliveries WHERE webhook_id = ? AND status = ?`), id, notify.StatusQueued)
		return err
	})
}

const deliveryCols = `id, webhook_id, body, status, attempts, last_error, created_at, next_at, sent_at`

func scanDelivery(sc scanner) (store.Delivery, error) {
	var d store.Delivery
	var created, next, sent int64
	err := sc.Scan(&d.ID, &d.WebhookID, &d.Body, &d.Status, &d.Attempts, &d.LastError, &created, &next, &sent)
	d.CreatedAt, d.NextAt, d.SentAt = fromMS(created), fromMS(next), optTime(sent)
	return d, err
}

// EnqueueDeliveries implements store.Subscriptions.
func (s *DB) EnqueueDeliveries(ctx context.Context, ds ...store.Delivery) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		for _, d := range ds {
			if err := s.insertDelivery(ctx, tx, d); err != nil {
				return err
			}
		}
		return nil
	})
}

func (s *DB) insertDelivery(ctx context.Context, tx *sql.Tx, d store.Delivery) error {
	_, err := tx.ExecContext(ctx, s.q(`INSERT INTO webhook_deliveries (webhook_id, body, status, created_at, next_at) VALUES (?, ?, ?, ?, ?)`),
		d.WebhookID, nonNil(d.Body), notify.StatusQueued, ms(d.CreatedAt), ms(d.NextAt))
	return err
}

// QueueNotices implements store.Subscriptions: the cursor's compare-and-set
// and the inserts share one transaction, so two replicas that read the same
// cursor cannot both queue the same notices.
func (s *DB) QueueNotices(ctx context.Context, cursor string, from, to []byte, mails []store.Mail, ds []store.Delivery) (bool, error) {
	moved := false
	err := s.tx(ctx, func(tx *sql.Tx) error {
		moved = false
		res, err := tx.ExecContext(ctx, s.q(`UPDATE settings SET value = ? WHERE name = ? AND value = ?`), to, cursor, from)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil || n != 1 {
			return err
		}
		for _, m := range mails {
			if err := s.enqueue(ctx, tx, m); err != nil {
				return err
			}
		}
		for _, d := range ds {
			if err := s.insertDelivery(ctx, tx, d); err != nil {
				return err
			}
		}
		moved = true
		return nil
	})
	if err != nil {
		return false, fmt.Errorf("queueing notices: %w", err)
	}
	return moved, nil
}

// ClaimDeliveries implements store.Subscriptions, as ClaimMail does.
func (s *DB) ClaimDeliveries(ctx context.Context, now, lease time.Time, limit int) ([]store.Delivery, error) {
	var out []store.Delivery
	lock := ""
	if s.d.ForUpdate != "" {
		lock = s.d.ForUpdate + " SKIP LOCKED"
	}
	err := s.tx(ctx, func(tx *sql.Tx) error {
		out = out[:0]
		rows, err := tx.QueryContext(ctx, s.q(`SELECT `+deliveryCols+` FROM webhook_deliveries WHERE status = ? AND next_at <= ? ORDER BY next_at, id LIMIT ? `+lock),
			notify.StatusQueued, ms(now), limit)
		if err != nil {
			return err
		}
		for rows.Next() {
			d, err := scanDelivery(rows)
			if err != nil {
				rows.Close()
				return err
			}
			out = append(out, d)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		for i := range out {
			if _, err := tx.ExecContext(ctx, s.q(`UPDATE webhook_deliveries SET next_at = ? WHERE id = ?`), ms(lease), out[i].ID); err != nil {
				return err
			}
			out[i].NextAt = lease
		}
		return nil
	})
	return out, err
}

// FinishDelivery implements store.Subscriptions.
func (s *DB) FinishDelivery(ctx context.Context, d store.Delivery) error {
	_, err := s.db.ExecContext(ctx, s.q(`UPDATE webhook_deliveries SET status = ?, attempts = ?, last_error = ?, next_at = ?, sent_at = ? WHERE id = ?`),
		d.Status, d.Attempts, d.LastError, ms(d.NextAt), optMS(d.SentAt), d.ID)
	return err
}

// Deliveries implements store.Subscriptions.
func (s *DB) Deliveries(ctx context.Context, limit int) ([]store.Delivery, error) {
	return queryAll(ctx, s, `SELECT `+deliveryCols+` FROM webhook_deliveries ORDER BY id DESC LIMIT ?`, []any{limit}, scanDelivery)
}
