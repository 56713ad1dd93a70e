package sqlstore

import (
	"context"
	"database/sql"
	"time"

	"github.com/enmei-project/enmei/internal/errs"
	"github.com/enmei-project/enmei/internal/store"
)

const developerCols = `name, support_id, password_hash, created_at, changed_at`

func scanDeveloper(sc scanner) (store.DeveloperAccount, error) {
	var a store.DeveloperAccount
	var created, changed int64
	err := sc.Scan(&a.Name, &a.SupportID, &a.PasswordHash, &created, &changed)
	a.CreatedAt = fromMS(created)
	if changed != 0 {
		a.ChangedAt = fromMS(changed)
	}
	return a, err
}

// AddDeveloperContract implements store.Developers.
func (s *DB) AddDeveloperContract(ctx context.Context, c store.Contract, a store.DeveloperAccount) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		if err := s.insertContract(ctx, tx, c); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, s.q(`INSERT INTO developer_accounts (`+developerCols+`) VALUES (?, ?, ?, ?, 0)`),
			a.Name, c.SupportID, a.PasswordHash, ms(a.CreatedAt))
		if err != nil && s.d.IsUnique(err) {
			return errs.E(errs.Exists, "developer account %s collides with an existing one: create the contract again", a.Name)
		}
		return err
	})
}

// DeveloperAccount implements store.Developers.
func (s *DB) DeveloperAccount(ctx context.Context, name string) (store.DeveloperAccount, error) {
	a, err := scanDeveloper(s.db.QueryRowContext(ctx, s.q(`SELECT `+developerCols+` FROM developer_accounts WHERE name = ?`), name))
	return a, notFound(err, "no developer account %q", name)
}

// ContractDeveloperAccount implements store.Developers.
func (s *DB) ContractDeveloperAccount(ctx context.Context, supportID string) (store.DeveloperAccount, error) {
	a, err := scanDeveloper(s.db.QueryRowContext(ctx, s.q(`SELECT `+developerCols+` FROM developer_accounts WHERE support_id = ?`), supportID))
	return a, notFound(err, "contract %s has no developer account (it is not a developer-plan contract)", supportID)
}

// SetDeveloperPassword implements store.Developers.
func (s *DB) SetDeveloperPassword(ctx context.Context, name, hash string, at time.Time) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, s.q(`UPDATE developer_accounts SET password_hash = ?, changed_at = ? WHERE name = ?`), hash, ms(at), name)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return errs.E(errs.NotFound, "no developer account %q", name)
		}
		if _, err = tx.ExecContext(ctx, s.q(`DELETE FROM sessions WHERE kind = 'developer' AND subject = ?`), name); err != nil {
			return err
		}
		return bumpGeneration(ctx, tx)
	})
}
