package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"strings"

	"github.com/enmei-project/enmei/internal/errs"
	"github.com/enmei-project/enmei/internal/store"
)

// PutUpgradeRule implements store.UpgradePaths.
func (s *DB) PutUpgradeRule(ctx context.Context, r store.UpgradeRule) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		var n int
		if err := tx.QueryRowContext(ctx, s.q(`SELECT COUNT(*) FROM products WHERE id = ?`), r.ProductID).Scan(&n); err != nil {
			return err
		}
		if n == 0 {
			return errs.E(errs.NotFound, "no product %q: add it with enmeid product add", r.ProductID)
		}
		_, err := tx.ExecContext(ctx, s.q(`INSERT INTO upgrade_rules (product_id, package_name, to_line, from_lines, via_line, note)
			VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (product_id, package_name, to_line)
			DO UPDATE SET from_lines = excluded.from_lines, via_line = excluded.via_line, note = excluded.note`),
			r.ProductID, r.Package, r.To, strings.Join(r.From, ","), r.Via, r.Note)
		if err != nil {
			return fmt.Errorf("storing the upgrade path of %s to %s in %s: %w", r.Package, r.To, r.ProductID, err)
		}
		return nil
	})
}

// DeleteUpgradeRule implements store.UpgradePaths.
func (s *DB) DeleteUpgradeRule(ctx context.Context, productID, pkg, to string) error {
	res, err := s.db.ExecContext(ctx, s.q(`DELETE FROM upgrade_rules WHERE product_id = ? AND package_name = ? AND to_line = ?`), productID, pkg, to)
	if err != nil {
		return fmt.Errorf("removing the upgrade path of %s to %s in %s: %w", pkg, to, productID, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return errs.E(errs.NotFound, "product %s has no upgrade path of %s to %s: list them with enmeid product upgrade-path %s --list", productID, pkg, to, productID)
	}
	return nil
}

// UpgradeRules implements store.UpgradePaths.
func (s *DB) UpgradeRules(ctx context.Context, productIDs ...string) ([]store.UpgradeRule, error) {
	query := `SELECT product_id, package_name, to_line, from_lines, via_line, note FROM upgrade_rules`
	var args []any
	if len(productIDs) > 0 {
		query += ` WHERE product_id IN (?` + strings.Repeat(", ?", len(productIDs)-1) + `)`
		for _, id := range productIDs {
			args = append(args, id)
		}
	}
	return queryAll(ctx, s, query+` ORDER BY product_id, package_name, to_line`, args, func(sc scanner) (store.UpgradeRule, error) {
		var r store.UpgradeRule
		var from string
		err := sc.Scan(&r.ProductID, &r.Package, &r.To, &from, &r.Via, &r.Note)
		r.From = splitList(from)
		return r, err
	})
}

// PackagesByName implements store.Packages.
func (s *DB) PackagesByName(ctx context.Context, names []string) ([]store.Package, error) {
	return s.packagesWhereIn(ctx, "name", names)
}
