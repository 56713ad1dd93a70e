package sqlstore

import (
	"context"
	"database/sql"
	"time"

	"github.com/enmei-project/enmei/internal/store"
)

const certCols = `serial, support_id, not_before, not_after, issued_at, der, downloaded_at, revoked_at, revoke_reason`

func scanCert(sc scanner) (store.Certificate, error) {
	var c store.Certificate
	var nb, na, issued, downloaded, revoked int64
	err := sc.Scan(&c.Serial, &c.SupportID, &nb, &na, &issued, &c.DER, &downloaded, &revoked, &c.RevokeReason)
	c.NotBefore, c.NotAfter, c.IssuedAt = fromMS(nb), fromMS(na), fromMS(issued)
	if downloaded != 0 {
		c.DownloadedAt = fromMS(downloaded)
	}
	if revoked != 0 {
		c.RevokedAt = fromMS(revoked)
	}
	return c, err
}

// IssueCertificate implements store.Certificates. The contract row is locked
// (PostgreSQL) or the database is (SQLite), so two issues at once cannot
// both find no current certificate.
func (s *DB) IssueCertificate(ctx context.Context, c store.Certificate, link store.Link, mail *store.Mail, replace bool) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		var sid string
		err := tx.QueryRowContext(ctx, s.q(`SELECT support_id FROM contracts WHERE support_id = ? `+s.d.ForUpdate), c.SupportID).Scan(&sid)
		if err != nil {
			return notFound(err, "no contract %q: check the support ID", c.SupportID)
		}
		var current []string
		rows, err := tx.QueryContext(ctx, s.q(`SELECT serial FROM certificates WHERE support_id = ? AND revoked_at = 0`), c.SupportID)
		if err != nil {
			return err
		}
		for rows.Next() {
			var serial string
			if err := rows.Scan(&serial); err != nil {
				rows.Close()
				return err
			}
			current = append(current, serial)
		}
		rows.Close()
		if len(current) > 0 && !replace {
			return store.ErrHasCertificate
		}
		for _, serial := range current {
			if _, err := tx.ExecContext(ctx, s.q(`UPDATE certificates SET revoked_at = ?, revoke_reason = ? WHERE serial = ?`),
				ms(c.IssuedAt), "replaced by "+c.Serial, serial); err != nil {
				return err
			}
		}
		if _, err := tx.ExecContext(ctx, s.q(`INSERT INTO certificates (serial, support_id, not_before, not_after, issued_at, der) VALUES (?, ?, ?, ?, ?, ?)`),
			c.Serial, c.SupportID, ms(c.NotBefore), ms(c.NotAfter), ms(c.IssuedAt), []byte{}); err != nil {
			return err
		}
		if err := s.insertLink(ctx, tx, link); err != nil {
			return err
		}
		if mail != nil {
			return s.enqueue(ctx, tx, *mail)
		}
		return nil
	})
}

// CompleteCertificate implements store.Certificates.
func (s *DB) CompleteCertificate(ctx context.Context, serial string, der []byte, at time.Time) error {
	res, err := s.db.ExecContext(ctx, s.q(`UPDATE certificates SET der = ?, downloaded_at = ? WHERE serial = ? AND downloaded_at = 0`), der, ms(at), serial)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 1 {
		return nil
	}
	if _, err := s.Certificate(ctx, serial); err != nil {
		return err
	}
	return store.ErrDownloaded
}

// Certificate implements store.Certificates.
func (s *DB) Certificate(ctx context.Context, serial string) (store.Certificate, error) {
	c, err := scanCert(s.db.QueryRowContext(ctx, s.q(`SELECT `+certCols+` FROM certificates WHERE serial = ?`), serial))
	return c, notFound(err, "no certificate with serial %s", serial)
}

// ContractCertificates implements store.Certificates.
func (s *DB) ContractCertificates(ctx context.Context, supportID string) ([]store.Certificate, error) {
	return queryAll(ctx, s, `SELECT `+certCols+` FROM certificates WHERE support_id = ? ORDER BY issued_at DESC, serial`, []any{supportID}, scanCert)
}

// RevokeCertificate implements store.Certificates.
func (s *DB) RevokeCertificate(ctx context.Context, serial, reason string, at time.Time) error {
	res, err := s.db.ExecContext(ctx, s.q(`UPDATE certificates SET revoked_at = ?, revoke_reason = ? WHERE serial = ? AND revoked_at = 0`), ms(at), reason, serial)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 1 {
		return nil
	}
	_, err = s.Certificate(ctx, serial)
	return err // NotFound, or nil: already revoked
}
