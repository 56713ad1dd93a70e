package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/enmei-project/enmei/internal/errs"
	"github.com/enmei-project/enmei/internal/notify"
	"github.com/enmei-project/enmei/internal/store"
)

const mailCols = `id, to_addr, subject, message, status, attempts, last_error, created_at, next_at, sent_at`

func scanMail(sc scanner) (store.Mail, error) {
	var m store.Mail
	var created, next, sent int64
	err := sc.Scan(&m.ID, &m.To, &m.Subject, &m.Message, &m.Status, &m.Attempts, &m.LastError, &created, &next, &sent)
	m.CreatedAt, m.NextAt = fromMS(created), fromMS(next)
	if sent != 0 {
		m.SentAt = fromMS(sent)
	}
	return m, err
}

func (s *DB) enqueue(ctx context.Context, tx *sql.Tx, m store.Mail) error {
	if m.Status == "" {
		m.Status = notify.StatusQueued
	}
	_, err := tx.ExecContext(ctx, s.q(`INSERT INTO outbox (to_addr, subject, message, status, attempts, last_error, created_at, next_at, sent_at) VALUES (?, ?, ?, ?, 0, '', ?, ?, 0)`),
		m.To, m.Subject, nonNil(m.Message), m.Status, ms(m.CreatedAt), ms(m.NextAt))
	if err != nil {
		return fmt.Errorf("queueing mail to %s: %w", m.To, err)
	}
	return nil
}

// EnqueueMail implements store.Outbox.
func (s *DB) EnqueueMail(ctx context.Context, mails ...store.Mail) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		for _, m := range mails {
			if err := s.enqueue(ctx, tx, m); err != nil {
				return err
			}
		}
		return nil
	})
}

// ClaimMail implements notify.Outbox. The claim moves next_at forward in the
// same transaction as the read; PostgreSQL skips rows another replica has
// locked, SQLite serialises claimers with its write lock.
func (s *DB) ClaimMail(ctx context.Context, now, until time.Time, limit int) ([]store.Mail, error) {
	var out []store.Mail
	lock := ""
	if s.d.ForUpdate != "" {
		lock = s.d.ForUpdate + " SKIP LOCKED"
	}
	err := s.tx(ctx, func(tx *sql.Tx) error {
		out = out[:0]
		rows, err := tx.QueryContext(ctx, s.q(`SELECT `+mailCols+` FROM outbox WHERE status = ? AND next_at <= ? ORDER BY next_at, id LIMIT ? `+lock),
			notify.StatusQueued, ms(now), limit)
		if err != nil {
			return err
		}
		for rows.Next() {
			m, err := scanMail(rows)
			if err != nil {
				rows.Close()
				return err
			}
			out = append(out, m)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		for i := range out {
			if _, err := tx.ExecContext(ctx, s.q(`UPDATE outbox SET next_at = ? WHERE id = ?`), ms(until), out[i].ID); err != nil {
				return err
			}
			out[i].NextAt = until
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("claiming mail: %w", err)
	}
	return out, nil
}

// MailSent implements notify.Outbox.
func (s *DB) MailSent(ctx context.Context, id int64, at time.Time) error {
	_, err := s.db.ExecContext(ctx, s.q(`UPDATE outbox SET status = ?, attempts = attempts + 1, last_error = '', sent_at = ? WHERE id = ?`),
		notify.StatusSent, ms(at), id)
	return err
}

// MailFailed implements notify.Outbox.
func (s *DB) MailFailed(ctx context.Context, id int64, errText string, next time.Time, final bool) error {
	status := notify.StatusQueued
	if final {
		status = notify.StatusFailed
	}
	_, err := s.db.ExecContext(ctx, s.q(`UPDATE outbox SET status = ?, attempts = attempts + 1, last_error = ?, next_at = ? WHERE id = ?`),
		status, errText, ms(next), id)
	return err
}

// Mails implements store.Outbox.
func (s *DB) Mails(ctx context.Context, limit int) ([]store.Mail, error) {
	return queryAll(ctx, s, `SELECT `+mailCols+` FROM outbox ORDER BY id DESC LIMIT ?`, []any{limit}, scanMail)
}

// AddUser implements store.Accounts.
func (s *DB) AddUser(ctx context.Context, u store.User, link store.Link) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, s.q(`INSERT INTO users (email, role, password_hash, created_at) VALUES (?, ?, ?, ?)`),
			u.Email, u.Role, u.PasswordHash, ms(u.CreatedAt))
		if err != nil && s.d.IsUnique(err) {
			return errs.E(errs.Exists, "user %s already exists", u.Email)
		}
		if err != nil {
			return err
		}
		return s.insertLink(ctx, tx, link)
	})
}

func (s *DB) insertLink(ctx context.Context, tx *sql.Tx, l store.Link) error {
	_, err := tx.ExecContext(ctx, s.q(`INSERT INTO links (hash, purpose, subject, created_at, expires_at, used_at) VALUES (?, ?, ?, ?, ?, 0)`),
		l.Hash, l.Purpose, l.Subject, ms(l.CreatedAt), ms(l.ExpiresAt))
	return err
}

const userCols = `email, role, password_hash, created_at`

func scanUser(sc scanner) (store.User, error) {
	var u store.User
	var created int64
	err := sc.Scan(&u.Email, &u.Role, &u.PasswordHash, &created)
	u.CreatedAt = fromMS(created)
	return u, err
}

// User implements store.Accounts.
func (s *DB) User(ctx context.Context, email string) (store.User, error) {
	u, err := scanUser(s.db.QueryRowContext(ctx, s.q(`SELECT `+userCols+` FROM users WHERE email = ?`), email))
	return u, notFound(err, "no console user %s", email)
}

// Users implements store.Accounts.
func (s *DB) Users(ctx context.Context) ([]store.User, error) {
	return queryAll(ctx, s, `SELECT `+userCols+` FROM users ORDER BY email`, nil, scanUser)
}

// AddToken implements store.Accounts.
func (s *DB) AddToken(ctx context.Context, t store.APIToken) error {
	_, err := s.db.ExecContext(ctx, s.q(`INSERT INTO api_tokens (name, role, hash, created_at) VALUES (?, ?, ?, ?)`),
		t.Name, t.Role, t.Hash, ms(t.CreatedAt))
	if err != nil && s.d.IsUnique(err) {
		return errs.E(errs.Exists, "an API token named %q already exists: choose another --name", t.Name)
	}
	return err
}

// TokenByHash implements store.Accounts.
func (s *DB) TokenByHash(ctx context.Context, hash []byte) (store.APIToken, error) {
	var t store.APIToken
	var created int64
	err := s.db.QueryRowContext(ctx, s.q(`SELECT name, role, hash, created_at FROM api_tokens WHERE hash = ?`), hash).
		Scan(&t.Name, &t.Role, &t.Hash, &created)
	t.CreatedAt = fromMS(created)
	return t, notFound(err, "no such API token")
}

// AddLink implements store.Accounts.
func (s *DB) AddLink(ctx context.Context, l store.Link, mail *store.Mail, max int, since time.Time) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		if max > 0 {
			if s.d.LockKey != "" {
				if _, err := tx.ExecContext(ctx, s.q(s.d.LockKey), "link:"+l.Purpose+":"+l.Subject); err != nil {
					return err
				}
			}
			var n int
			if err := tx.QueryRowContext(ctx, s.q(`SELECT COUNT(*) FROM links WHERE purpose = ? AND subject = ? AND created_at >= ?`),
				l.Purpose, l.Subject, ms(since)).Scan(&n); err != nil {
				return err
			}
			if n >= max {
				return store.ErrRateLimited
			}
		}
		if err := s.insertLink(ctx, tx, l); err != nil {
			return fmt.Errorf("storing a one-time link: %w", err)
		}
		if mail != nil {
			return s.enqueue(ctx, tx, *mail)
		}
		return nil
	})
}

// UseLink implements store.Accounts. The UPDATE's condition is the check, so
// two concurrent uses cannot both succeed.
func (s *DB) UseLink(ctx context.Context, hash []byte, purpose string, now time.Time) (store.Link, error) {
	var l store.Link
	err := s.tx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, s.q(`UPDATE links SET used_at = ? WHERE hash = ? AND purpose = ? AND used_at = 0 AND expires_at > ?`),
			ms(now), hash, purpose, ms(now))
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n != 1 {
			return errs.E(errs.NotFound, "this link is unknown, was already used or has expired: ask for a new one")
		}
		var created, expires int64
		err = tx.QueryRowContext(ctx, s.q(`SELECT hash, purpose, subject, created_at, expires_at FROM links WHERE hash = ?`), hash).
			Scan(&l.Hash, &l.Purpose, &l.Subject, &created, &expires)
		l.CreatedAt, l.ExpiresAt = fromMS(created), fromMS(expires)
		return err
	})
	return l, err
}

// SetPassword implements store.Accounts.
func (s *DB) SetPassword(ctx context.Context, email, hash string) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, s.q(`UPDATE users SET password_hash = ? WHERE email = ?`), hash, email)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return errs.E(errs.NotFound, "no console user %s", email)
		}
		_, err = tx.ExecContext(ctx, s.q(`DELETE FROM sessions WHERE kind = 'vendor' AND subject = ?`), email)
		return err
	})
}

// AddSession implements store.Accounts.
func (s *DB) AddSession(ctx context.Context, se store.Session) error {
	_, err := s.db.ExecContext(ctx, s.q(`INSERT INTO sessions (hash, kind, subject, created_at, expires_at) VALUES (?, ?, ?, ?, ?)`),
		se.Hash, se.Kind, se.Subject, ms(se.CreatedAt), ms(se.ExpiresAt))
	return err
}

// Session implements store.Accounts.
func (s *DB) Session(ctx context.Context, hash []byte, now time.Time) (store.Session, error) {
	var se store.Session
	var created, expires int64
	err := s.db.QueryRowContext(ctx, s.q(`SELECT hash, kind, subject, created_at, expires_at FROM sessions WHERE hash = ? AND expires_at > ?`), hash, ms(now)).
		Scan(&se.Hash, &se.Kind, &se.Subject, &created, &expires)
	if errors.Is(err, sql.ErrNoRows) {
		return se, errs.E(errs.NotFound, "the session has ended: sign in again")
	}
	se.CreatedAt, se.ExpiresAt = fromMS(created), fromMS(expires)
	return se, err
}

// DeleteSession implements store.Accounts.
func (s *DB) DeleteSession(ctx context.Context, hash []byte) error {
	_, err := s.db.ExecContext(ctx, s.q(`DELETE FROM sessions WHERE hash = ?`), hash)
	return err
}

// DeleteExpired implements store.Accounts. Used links are kept until they
// expire, since they count towards the rate limit.
func (s *DB) DeleteExpired(ctx context.Context, now time.Time) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, s.q(`DELETE FROM sessions WHERE expires_at <= ?`), ms(now)); err != nil {
			return err
		}
		// A link is kept a day past its expiry: rate limits count it.
		_, err := tx.ExecContext(ctx, s.q(`DELETE FROM links WHERE expires_at <= ?`), ms(now.Add(-24*time.Hour)))
		return err
	})
}
