// Package postgres is enmei's scale-out store: PostgreSQL through pgx.
// Several enmeid replicas share one database; seat claims lock the licence
// key's row (SELECT … FOR UPDATE), so the quantity holds across replicas, and
// migrations take an advisory lock so replicas starting together agree.
package postgres

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5/pgconn"
	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" driver

	"github.com/enmei-project/enmei/internal/store"
	"github.com/enmei-project/enmei/internal/store/sqlstore"
)

// DB is the PostgreSQL store.
type DB struct {
	*sqlstore.DB
}

func code(err error) string {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return pe.Code
	}
	return ""
}

// migrationLock is the pg_advisory_xact_lock key every migration step (and
// the creation of schema_migrations) holds, so replicas starting together
// migrate one at a time.
const migrationLock = "SELECT pg_advisory_xact_lock(72656)"

// Open connects to the database at url (postgres://…) and migrates it.
func Open(ctx context.Context, url string) (*DB, error) {
	db, err := sql.Open("pgx", url)
	if err != nil {
		return nil, fmt.Errorf("opening PostgreSQL: %w", err)
	}
	db.SetMaxOpenConns(20)
	db.SetMaxIdleConns(20)
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("connecting to PostgreSQL: %w", err)
	}
	if err := createMigrationsTable(ctx, db); err != nil {
		db.Close()
		return nil, err
	}
	s, err := sqlstore.New(ctx, db, sqlstore.Dialect{
		Name:           "postgres",
		Numbered:       true,
		ForUpdate:      "FOR UPDATE",
		IsUnique:       func(err error) bool { return code(err) == "23505" },
		Types:          map[string]string{"bytes": "BYTEA", "int64": "BIGINT", "serial": "BIGSERIAL PRIMARY KEY"},
		LockMigrations: migrationLock,
		LockKey:        "SELECT pg_advisory_xact_lock(hashtext(?))",
		Retryable:      func(err error) bool { c := code(err); return c == "40001" || c == "40P01" },
		// Rewrites the table so no dead tuple keeps a deleted value.
		Scrub: []string{"VACUUM FULL settings"},
	})
	if err != nil {
		db.Close()
		return nil, err
	}
	return &DB{s}, nil
}

// createMigrationsTable creates schema_migrations under the migration lock.
// Concurrent CREATE TABLE IF NOT EXISTS statements race in PostgreSQL (both
// see no table, one fails on the catalog's unique index), so replicas starting
// together must not leave it to sqlstore's unlocked statement, which then
// finds the table and does nothing.
func createMigrationsTable(ctx context.Context, db *sql.DB) error {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("migrating postgres: %w", err)
	}
	defer tx.Rollback()
	for _, stmt := range []string{migrationLock,
		`CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at BIGINT NOT NULL)`} {
		if _, err := tx.ExecContext(ctx, stmt); err != nil {
			return fmt.Errorf("migrating postgres: %w", err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("migrating postgres: %w", err)
	}
	return nil
}

var _ store.Store = (*DB)(nil)
