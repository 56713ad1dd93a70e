package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/enmei-project/enmei/internal/errs"
	"github.com/enmei-project/enmei/internal/store"
)

const ticketCols = `num, support_id, subject, status, waiting, consumed, year_start, confirm_word, lang, contact,
  opened_at, due_at, responded_at, closed_at, vendor_fault, scope_level, out_of_scope, priority`

func scanTicket(sc scanner) (store.Ticket, error) {
	var t store.Ticket
	var consumed, fault int
	var opened, due, responded, closed int64
	err := sc.Scan(&t.Number, &t.SupportID, &t.Subject, &t.Status, &t.Waiting, &consumed, &t.YearStart, &t.ConfirmWord,
		&t.Lang, &t.Contact, &opened, &due, &responded, &closed, &fault, &t.ScopeLevel, &t.OutOfScope, &t.Priority)
	t.Consumed, t.VendorFault = consumed != 0, fault != 0
	t.OpenedAt, t.DueAt = fromMS(opened), fromMS(due)
	t.RespondedAt, t.ClosedAt = optTime(responded), optTime(closed)
	return t, err
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// AddTicket implements store.Desk.
func (s *DB) AddTicket(ctx context.Context, t store.Ticket, change func(store.Ticket) (store.TicketChange, error)) (store.Ticket, error) {
	var out store.Ticket
	err := s.tx(ctx, func(tx *sql.Tx) error {
		var sid string
		if err := tx.QueryRowContext(ctx, s.q(`SELECT support_id FROM contracts WHERE support_id = ? `+s.d.ForUpdate), t.SupportID).Scan(&sid); err != nil {
			return notFound(err, "no contract %q: check the support ID", t.SupportID)
		}
		err := tx.QueryRowContext(ctx, s.q(`INSERT INTO tickets (support_id, subject, status, waiting, consumed, year_start, confirm_word,
			lang, contact, opened_at, due_at, responded_at, closed_at, vendor_fault, scope_level, out_of_scope, priority)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING num`),
			t.SupportID, t.Subject, t.Status, t.Waiting, b2i(t.Consumed), t.YearStart, t.ConfirmWord, t.Lang, t.Contact,
			ms(t.OpenedAt), ms(t.DueAt), optMS(t.RespondedAt), optMS(t.ClosedAt), b2i(t.VendorFault), t.ScopeLevel,
			t.OutOfScope, t.Priority).Scan(&t.Number)
		if err != nil {
			return fmt.Errorf("storing ticket: %w", err)
		}
		c, err := change(t)
		if err != nil {
			return err
		}
		out = t
		return s.applyTicketChange(ctx, tx, t.Number, c)
	})
	return out, err
}

// ChangeTicket implements store.Desk.
func (s *DB) ChangeTicket(ctx context.Context, n int64, change func(*store.Ticket, func(string) (int, error)) (store.TicketChange, error)) (store.Ticket, error) {
	var out store.Ticket
	err := s.tx(ctx, func(tx *sql.Tx) error {
		t, err := scanTicket(tx.QueryRowContext(ctx, s.q(`SELECT `+ticketCols+` FROM tickets WHERE num = ?`), n))
		if err != nil {
			return notFound(err, "no ticket %s: check the number (enmeid ticket list)", tag(n))
		}
		// The contract row is the lock every allowance decision of the
		// contract takes (SQLite's write lock already serialises them).
		var sid string
		if err := tx.QueryRowContext(ctx, s.q(`SELECT support_id FROM contracts WHERE support_id = ? `+s.d.ForUpdate), t.SupportID).Scan(&sid); err != nil {
			return err
		}
		used := func(yearStart string) (int, error) { return s.inquiriesUsed(ctx, tx, t.SupportID, yearStart) }
		c, err := change(&t, used)
		if err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, s.q(`UPDATE tickets SET subject = ?, status = ?, waiting = ?, consumed = ?, year_start = ?,
			confirm_word = ?, lang = ?, contact = ?, due_at = ?, responded_at = ?, closed_at = ?, vendor_fault = ?, scope_level = ?,
			out_of_scope = ?, priority = ? WHERE num = ?`),
			t.Subject, t.Status, t.Waiting, b2i(t.Consumed), t.YearStart, t.ConfirmWord, t.Lang, t.Contact, ms(t.DueAt),
			optMS(t.RespondedAt), optMS(t.ClosedAt), b2i(t.VendorFault), t.ScopeLevel, t.OutOfScope, t.Priority, n)
		if err != nil {
			return fmt.Errorf("updating ticket %s: %w", tag(n), err)
		}
		out = t
		return s.applyTicketChange(ctx, tx, n, c)
	})
	return out, err
}

func (s *DB) applyTicketChange(ctx context.Context, tx *sql.Tx, n int64, c store.TicketChange) error {
	for _, m := range c.Messages {
		atts, _ := json.Marshal(nonNilSlice(m.Attachments))
		_, err := tx.ExecContext(ctx, s.q(`INSERT INTO ticket_messages (ticket, direction, message_id, from_addr, subject, body, attachments, at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?)`), n, m.Direction, m.MessageID, m.From, m.Subject, m.Text, string(atts), ms(m.At))
		if err != nil {
			return fmt.Errorf("storing a message of ticket %s: %w", tag(n), err)
		}
	}
	for _, m := range c.Mails {
		if err := s.enqueue(ctx, tx, m); err != nil {
			return err
		}
	}
	return nil
}

func nonNilSlice[T any](v []T) []T {
	if v == nil {
		return []T{}
	}
	return v
}

func tag(n int64) string { return fmt.Sprintf("ENM-T-%06d", n) }

// Ticket implements store.Desk.
func (s *DB) Ticket(ctx context.Context, n int64) (store.Ticket, error) {
	t, err := scanTicket(s.db.QueryRowContext(ctx, s.q(`SELECT `+ticketCols+` FROM tickets WHERE num = ?`), n))
	return t, notFound(err, "no ticket %s: check the number (enmeid ticket list)", tag(n))
}

// Tickets implements store.Desk.
func (s *DB) Tickets(ctx context.Context, f store.TicketFilter) ([]store.Ticket, error) {
	var where []string
	var args []any
	if f.SupportID != "" {
		where, args = append(where, "support_id = ?"), append(args, f.SupportID)
	}
	if f.Status != "" {
		where, args = append(where, "status = ?"), append(args, f.Status)
	}
	q := `SELECT ` + ticketCols + ` FROM tickets`
	if len(where) > 0 {
		q += ` WHERE ` + strings.Join(where, " AND ")
	}
	return queryAll(ctx, s, q+` ORDER BY num`, args, scanTicket)
}

// TicketMessages implements store.Desk.
func (s *DB) TicketMessages(ctx context.Context, n int64) ([]store.TicketMessage, error) {
	return queryAll(ctx, s, `SELECT id, ticket, direction, message_id, from_addr, subject, body, attachments, at FROM ticket_messages
		WHERE ticket = ? ORDER BY at, id`, []any{n}, func(sc scanner) (store.TicketMessage, error) {
		var m store.TicketMessage
		var atts string
		var at int64
		if err := sc.Scan(&m.ID, &m.Ticket, &m.Direction, &m.MessageID, &m.From, &m.Subject, &m.Text, &atts, &at); err != nil {
			return m, err
		}
		m.At = fromMS(at)
		if err := json.Unmarshal([]byte(atts), &m.Attachments); err != nil {
			return m, fmt.Errorf("attachments of message %d: %w", m.ID, err)
		}
		return m, nil
	})
}

// TicketByMessageID implements store.Desk.
func (s *DB) TicketByMessageID(ctx context.Context, ids []string) (store.Ticket, error) {
	var keep []any
	for _, id := range ids {
		if id != "" {
			keep = append(keep, id)
		}
	}
	if len(keep) == 0 {
		return store.Ticket{}, errs.E(errs.NotFound, "no ticket holds these messages")
	}
	marks := strings.TrimSuffix(strings.Repeat("?, ", len(keep)), ", ")
	t, err := scanTicket(s.db.QueryRowContext(ctx, s.q(`SELECT `+ticketCols+` FROM tickets WHERE num =
		(SELECT ticket FROM ticket_messages WHERE message_id IN (`+marks+`) ORDER BY id DESC LIMIT 1)`), keep...))
	return t, notFound(err, "no ticket holds these messages")
}

// InquiriesUsed implements store.Desk.
func (s *DB) InquiriesUsed(ctx context.Context, supportID, yearStart string) (int, error) {
	var n int
	err := s.db.QueryRowContext(ctx, s.q(`SELECT COUNT(*) FROM tickets WHERE support_id = ? AND consumed = 1 AND year_start = ?`),
		supportID, yearStart).Scan(&n)
	return n, err
}

func (s *DB) inquiriesUsed(ctx context.Context, tx *sql.Tx, supportID, yearStart string) (int, error) {
	var n int
	err := tx.QueryRowContext(ctx, s.q(`SELECT COUNT(*) FROM tickets WHERE support_id = ? AND consumed = 1 AND year_start = ?`),
		supportID, yearStart).Scan(&n)
	return n, err
}

// ContractsByContact implements store.Desk.
func (s *DB) ContractsByContact(ctx context.Context, email string) ([]store.Contract, error) {
	return queryAll(ctx, s, `SELECT `+contractCols+` FROM contracts WHERE contact = ?
		OR support_id IN (SELECT support_id FROM contact_changes WHERE email = ?) ORDER BY created_at DESC, support_id`,
		[]any{email, email}, scanContract)
}

// AddContactChange implements store.Desk.
func (s *DB) AddContactChange(ctx context.Context, c store.ContactChange, mails []store.Mail) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, s.q(`INSERT INTO contact_changes (support_id, email, effective, requested_at) VALUES (?, ?, ?, ?)`),
			c.SupportID, c.Email, c.Effective, ms(c.RequestedAt)); err != nil {
			return fmt.Errorf("storing the contact change of %s: %w", c.SupportID, err)
		}
		for _, m := range mails {
			if err := s.enqueue(ctx, tx, m); err != nil {
				return err
			}
		}
		return nil
	})
}

// ContactChanges implements store.Desk.
func (s *DB) ContactChanges(ctx context.Context, supportID string) ([]store.ContactChange, error) {
	return queryAll(ctx, s, `SELECT support_id, email, effective, requested_at FROM contact_changes WHERE support_id = ? ORDER BY id`,
		[]any{supportID}, func(sc scanner) (store.ContactChange, error) {
			var c store.ContactChange
			var at int64
			err := sc.Scan(&c.SupportID, &c.Email, &c.Effective, &at)
			c.RequestedAt = fromMS(at)
			return c, err
		})
}

// AddNotice implements store.Desk.
func (s *DB) AddNotice(ctx context.Context, n store.Notice, mails []store.Mail) (store.Notice, error) {
	err := s.tx(ctx, func(tx *sql.Tx) error {
		products, _ := json.Marshal(nonNilSlice(n.Products))
		err := tx.QueryRowContext(ctx, s.q(`INSERT INTO notices (title, body, start_at, end_at, products, emergency, rrule, created_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`), n.Title, n.Body, ms(n.Start), ms(n.End), string(products),
			b2i(n.Emergency), n.RRule, ms(n.CreatedAt)).Scan(&n.ID)
		if err != nil {
			return fmt.Errorf("storing the notice: %w", err)
		}
		for _, m := range mails {
			if err := s.enqueue(ctx, tx, m); err != nil {
				return err
			}
		}
		return nil
	})
	return n, err
}

// Notices implements store.Desk.
func (s *DB) Notices(ctx context.Context) ([]store.Notice, error) {
	return queryAll(ctx, s, `SELECT id, title, body, start_at, end_at, products, emergency, rrule, created_at FROM notices
		ORDER BY start_at DESC, id DESC`, nil, func(sc scanner) (store.Notice, error) {
		var n store.Notice
		var products string
		var start, end, created int64
		var emergency int
		if err := sc.Scan(&n.ID, &n.Title, &n.Body, &start, &end, &products, &emergency, &n.RRule, &created); err != nil {
			return n, err
		}
		n.Start, n.End, n.CreatedAt, n.Emergency = fromMS(start), fromMS(end), fromMS(created), emergency != 0
		return n, json.Unmarshal([]byte(products), &n.Products)
	})
}

// AttachmentBlobs implements store.Desk.
func (s *DB) AttachmentBlobs(ctx context.Context, f func(blob string) error) error {
	rows, err := s.db.QueryContext(ctx, `SELECT attachments FROM ticket_messages WHERE attachments <> '[]'`)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var raw string
		if err := rows.Scan(&raw); err != nil {
			return err
		}
		var atts []store.TicketAttachment
		if err := json.Unmarshal([]byte(raw), &atts); err != nil {
			return fmt.Errorf("ticket attachments: %w", err)
		}
		for _, a := range atts {
			if a.Blob == "" {
				continue
			}
			if err := f(a.Blob); err != nil {
				return err
			}
		}
	}
	return rows.Err()
}
