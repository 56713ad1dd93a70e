package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strings"

	"github.com/enmei-project/enmei/internal/errs"
	"github.com/enmei-project/enmei/internal/store"
)

// tables lists the store's tables (not the migrations' own), in the order
// they were made, so rows load before the rows that refer to them.
func (s *DB) tables(ctx context.Context, q interface {
	QueryContext(context.Context, string, ...any) (*sql.Rows, error)
}) ([]string, error) {
	query := `SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name <> 'schema_migrations' ORDER BY rowid`
	if s.d.Numbered {
		query = `SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
			WHERE n.nspname = current_schema() AND c.relkind = 'r' AND c.relname <> 'schema_migrations' ORDER BY c.oid`
	}
	rows, err := q.QueryContext(ctx, query)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			return nil, err
		}
		out = append(out, n)
	}
	return out, rows.Err()
}

// Snapshot implements store.Dumper: every table is read in one read-only
// transaction (PostgreSQL: REPEATABLE READ, so all tables are of one
// moment; SQLite: one read transaction on the WAL snapshot) while the
// server goes on writing.
func (s *DB) Snapshot(ctx context.Context, f func(store.TableDump) error) error {
	opts := &sql.TxOptions{ReadOnly: true}
	if s.d.Numbered {
		opts.Isolation = sql.LevelRepeatableRead
	}
	tx, err := s.db.BeginTx(ctx, opts)
	if err != nil {
		return fmt.Errorf("snapshot: %w", err)
	}
	defer tx.Rollback()
	var version int
	if err := tx.QueryRowContext(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_migrations`).Scan(&version); err != nil {
		return fmt.Errorf("snapshot: %w", err)
	}
	names, err := s.tables(ctx, tx)
	if err != nil {
		return fmt.Errorf("snapshot: listing tables: %w", err)
	}
	for _, name := range names {
		rows, err := tx.QueryContext(ctx, `SELECT * FROM `+name)
		if err != nil {
			return fmt.Errorf("snapshot of %s: %w", name, err)
		}
		cols, err := rows.Columns()
		if err != nil {
			rows.Close()
			return err
		}
		next := func() ([]any, error) {
			if !rows.Next() {
				return nil, rows.Err()
			}
			vals := make([]any, len(cols))
			ptrs := make([]any, len(cols))
			for i := range vals {
				ptrs[i] = &vals[i]
			}
			if err := rows.Scan(ptrs...); err != nil {
				return nil, err
			}
			for i, v := range vals {
				vals[i] = normalise(v)
			}
			return vals, nil
		}
		err = f(store.TableDump{Name: name, Columns: cols, Next: next, SchemaVersion: version})
		rows.Close()
		if err != nil {
			return err
		}
	}
	return tx.Commit()
}

// normalise maps driver values to int64, string, []byte or nil.
func normalise(v any) any {
	switch x := v.(type) {
	case int32:
		return int64(x)
	case int:
		return int64(x)
	case bool:
		if x {
			return int64(1)
		}
		return int64(0)
	case []byte:
		return append([]byte(nil), x...)
	}
	return v
}

// seeded are tables a migration fills: an empty store has their first
// rows, and a load replaces them.
var seeded = []string{"counters"}

// Empty implements store.Dumper: no table holds a row (but the ones the
// migrations seed).
func (s *DB) Empty(ctx context.Context) (bool, error) {
	names, err := s.tables(ctx, s.db)
	if err != nil {
		return false, err
	}
	for _, n := range names {
		if slices.Contains(seeded, n) {
			continue
		}
		var any int
		err := s.db.QueryRowContext(ctx, `SELECT 1 FROM `+n+` LIMIT 1`).Scan(&any)
		if err == nil {
			return false, nil
		}
		if err != sql.ErrNoRows {
			return false, err
		}
	}
	return true, nil
}

// Load implements store.Dumper: it inserts rows of the tables in one
// transaction, then moves every serial sequence past the highest ID, so
// new rows continue the numbering (PostgreSQL; SQLite does it by itself).
func (s *DB) Load(ctx context.Context, dumps []store.TableRows) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		known, err := s.tables(ctx, tx)
		if err != nil {
			return err
		}
		for _, d := range dumps {
			if !slices.Contains(known, d.Name) {
				return errs.E(errs.Invalid, "the backup has a table %q this enmeid does not know: restore with the enmeid version that made it or a newer one", d.Name)
			}
			for _, c := range d.Columns {
				if !identifier(c) {
					return errs.E(errs.Invalid, "the backup names a column %q that is no identifier", c)
				}
			}
			if slices.Contains(seeded, d.Name) {
				if _, err := tx.ExecContext(ctx, `DELETE FROM `+d.Name); err != nil {
					return err
				}
			}
			marks := strings.TrimSuffix(strings.Repeat("?, ", len(d.Columns)), ", ")
			ins, err := tx.PrepareContext(ctx, s.q(`INSERT INTO `+d.Name+` (`+strings.Join(d.Columns, ", ")+`) VALUES (`+marks+`)`))
			if err != nil {
				return fmt.Errorf("restoring %s: %w", d.Name, err)
			}
			for _, r := range d.Rows {
				if _, err := ins.ExecContext(ctx, r...); err != nil {
					ins.Close()
					return fmt.Errorf("restoring a row of %s: %w", d.Name, err)
				}
			}
			ins.Close()
		}
		if !s.d.Numbered {
			return nil
		}
		rows, err := tx.QueryContext(ctx, `SELECT table_name, column_name, pg_get_serial_sequence(table_name, column_name)
			FROM information_schema.columns WHERE table_schema = current_schema() AND column_default LIKE 'nextval(%'`)
		if err != nil {
			return err
		}
		type serial struct{ table, column, seq string }
		var serials []serial
		for rows.Next() {
			var sr serial
			if err := rows.Scan(&sr.table, &sr.column, &sr.seq); err != nil {
				rows.Close()
				return err
			}
			serials = append(serials, sr)
		}
		rows.Close()
		for _, sr := range serials {
			if _, err := tx.ExecContext(ctx, `SELECT setval('`+sr.seq+`', COALESCE((SELECT MAX(`+sr.column+`) FROM `+sr.table+`), 0) + 1, false)`); err != nil {
				return fmt.Errorf("restoring the numbering of %s: %w", sr.table, err)
			}
		}
		return nil
	})
}

func identifier(s string) bool {
	if s == "" || len(s) > 63 {
		return false
	}
	for _, r := range s {
		if !(r == '_' || r >= 'a' && r <= 'z' || r >= '0' && r <= '9') {
			return false
		}
	}
	return true
}
