package sqlstore

import (
	"context"
	"database/sql"

	"github.com/enmei-project/enmei/internal/errs"
	"github.com/enmei-project/enmei/internal/store"
)

const mirrorAccountCols = `id, support_id, secret_hash, created_at`

func scanMirrorAccount(sc scanner) (store.MirrorAccount, error) {
	var a store.MirrorAccount
	var created int64
	err := sc.Scan(&a.ID, &a.SupportID, &a.SecretHash, &created)
	a.CreatedAt = fromMS(created)
	return a, err
}

// PutMirrorAccount implements store.MirrorAccounts. The generation moves,
// so replicas drop a replaced account they cached.
func (s *DB) PutMirrorAccount(ctx context.Context, a store.MirrorAccount) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		var one int
		err := tx.QueryRowContext(ctx, s.q(`SELECT 1 FROM contracts WHERE support_id = ?`), a.SupportID).Scan(&one)
		if err := notFound(err, "no contract %s", a.SupportID); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, s.q(`DELETE FROM mirror_accounts WHERE support_id = ?`), a.SupportID); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, s.q(`INSERT INTO mirror_accounts (`+mirrorAccountCols+`) VALUES (?, ?, ?, ?)`),
			a.ID, a.SupportID, a.SecretHash, ms(a.CreatedAt))
		if err != nil && s.d.IsUnique(err) {
			return errs.E(errs.Exists, "mirror account %s collides with an existing one: try again", a.ID)
		}
		if err != nil {
			return err
		}
		return bumpGeneration(ctx, tx)
	})
}

// MirrorAccount implements store.MirrorAccounts.
func (s *DB) MirrorAccount(ctx context.Context, id string) (store.MirrorAccount, error) {
	a, err := scanMirrorAccount(s.db.QueryRowContext(ctx, s.q(`SELECT `+mirrorAccountCols+` FROM mirror_accounts WHERE id = ?`), id))
	return a, notFound(err, "no mirror account %q", id)
}

// ContractMirrorAccount implements store.MirrorAccounts.
func (s *DB) ContractMirrorAccount(ctx context.Context, supportID string) (store.MirrorAccount, error) {
	a, err := scanMirrorAccount(s.db.QueryRowContext(ctx, s.q(`SELECT `+mirrorAccountCols+` FROM mirror_accounts WHERE support_id = ?`), supportID))
	return a, notFound(err, "contract %s has no mirror account", supportID)
}

// SetContractTerms implements store.MirrorAccounts.
func (s *DB) SetContractTerms(ctx context.Context, supportID string, allowMirror, allowOffline bool) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, s.q(`UPDATE contracts SET allow_mirror = ?, allow_offline = ? WHERE support_id = ?`),
			b2i(allowMirror), b2i(allowOffline), supportID)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return errs.E(errs.NotFound, "no contract %s", supportID)
		}
		return bumpGeneration(ctx, tx)
	})
}
