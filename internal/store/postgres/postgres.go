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

// schema holds the migration steps; never edit a released step, add one.
var schema = []string{`
CREATE TABLE products (id TEXT PRIMARY KEY, name TEXT NOT NULL, format TEXT NOT NULL, eol TEXT NOT NULL DEFAULT '');
CREATE TABLE repos (id TEXT PRIMARY KEY, product_id TEXT NOT NULL REFERENCES products(id), format TEXT NOT NULL,
  arch TEXT NOT NULL DEFAULT '', suite TEXT NOT NULL DEFAULT '', component TEXT NOT NULL DEFAULT '',
  current_pub BIGINT NOT NULL DEFAULT 0);
CREATE INDEX repos_product ON repos(product_id);
CREATE TABLE contracts (support_id TEXT PRIMARY KEY, customer TEXT NOT NULL, end_user TEXT NOT NULL DEFAULT '',
  plan TEXT NOT NULL, products TEXT NOT NULL, quantity INTEGER NOT NULL, start_date TEXT NOT NULL, end_date TEXT NOT NULL,
  contact TEXT NOT NULL, created_at BIGINT NOT NULL);
CREATE TABLE license_keys (id TEXT PRIMARY KEY, support_id TEXT NOT NULL REFERENCES contracts(support_id),
  product_id TEXT NOT NULL, hash BYTEA NOT NULL UNIQUE);
CREATE INDEX license_keys_contract ON license_keys(support_id);
CREATE TABLE hosts (id TEXT PRIMARY KEY, support_id TEXT NOT NULL, product_id TEXT NOT NULL,
  key_id TEXT NOT NULL REFERENCES license_keys(id), machine_id TEXT NOT NULL, hostname TEXT NOT NULL,
  secret_hash BYTEA NOT NULL, registered_at BIGINT NOT NULL, last_seen BIGINT NOT NULL, UNIQUE (key_id, machine_id));
CREATE INDEX hosts_contract ON hosts(support_id);
CREATE TABLE packages (id TEXT PRIMARY KEY, blob TEXT NOT NULL, format TEXT NOT NULL, name TEXT NOT NULL,
  version TEXT NOT NULL, arch TEXT NOT NULL, location TEXT NOT NULL, size BIGINT NOT NULL, meta BYTEA NOT NULL);
CREATE TABLE publications (id BIGSERIAL PRIMARY KEY, repo_id TEXT NOT NULL REFERENCES repos(id),
  created_at BIGINT NOT NULL, packages INTEGER NOT NULL, manifest TEXT NOT NULL);
CREATE INDEX publications_repo ON publications(repo_id);
CREATE TABLE settings (name TEXT PRIMARY KEY, value BYTEA NOT NULL)
`}

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

// Open connects to the database at url (postgres://…) and migrates it.
func Open(ctx context.Context, url string) (*DB, error) {
	db, err := sql.Open("pgx", url)
	if err != nil {
		return nil, fmt.Errorf("opening PostgreSQL: %w", err)
	}
	db.SetMaxOpenConns(20)
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("connecting to PostgreSQL: %w", err)
	}
	s, err := sqlstore.New(ctx, db, sqlstore.Dialect{
		Name:           "postgres",
		Numbered:       true,
		ForUpdate:      "FOR UPDATE",
		IsUnique:       func(err error) bool { return code(err) == "23505" },
		Migrations:     schema,
		LockMigrations: "SELECT pg_advisory_xact_lock(72656)",
		Retryable:      func(err error) bool { c := code(err); return c == "40001" || c == "40P01" },
	})
	if err != nil {
		db.Close()
		return nil, err
	}
	return &DB{s}, nil
}

var _ store.Store = (*DB)(nil)
