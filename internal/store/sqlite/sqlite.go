// Package sqlite is enmei's embedded store: SQLite through the pure-Go
// modernc.org/sqlite driver, in WAL mode. Every write transaction is BEGIN
// IMMEDIATE, so it holds the database's write lock from its first statement:
// seat claims from `enmeid serve` and from admin commands running at the same
// time, in other processes, are serialised and never over-allocate.
package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"net/url"
	"strings"

	_ "modernc.org/sqlite" // registers the "sqlite" driver

	"github.com/enmei-project/enmei/internal/store"
	"github.com/enmei-project/enmei/internal/store/sqlstore"
)

// schema holds the migration steps; never edit a released step, add one.
var schema = []string{`
CREATE TABLE products (id TEXT PRIMARY KEY, name TEXT NOT NULL, format TEXT NOT NULL, eol TEXT NOT NULL DEFAULT '');
CREATE TABLE repos (id TEXT PRIMARY KEY, product_id TEXT NOT NULL REFERENCES products(id), format TEXT NOT NULL,
  arch TEXT NOT NULL DEFAULT '', suite TEXT NOT NULL DEFAULT '', component TEXT NOT NULL DEFAULT '',
  current_pub INTEGER NOT NULL DEFAULT 0);
CREATE INDEX repos_product ON repos(product_id);
CREATE TABLE contracts (support_id TEXT PRIMARY KEY, customer TEXT NOT NULL, end_user TEXT NOT NULL DEFAULT '',
  plan TEXT NOT NULL, products TEXT NOT NULL, quantity INTEGER NOT NULL, start_date TEXT NOT NULL, end_date TEXT NOT NULL,
  contact TEXT NOT NULL, created_at INTEGER NOT NULL);
CREATE TABLE license_keys (id TEXT PRIMARY KEY, support_id TEXT NOT NULL REFERENCES contracts(support_id),
  product_id TEXT NOT NULL, hash BLOB NOT NULL UNIQUE);
CREATE INDEX license_keys_contract ON license_keys(support_id);
CREATE TABLE hosts (id TEXT PRIMARY KEY, support_id TEXT NOT NULL, product_id TEXT NOT NULL,
  key_id TEXT NOT NULL REFERENCES license_keys(id), machine_id TEXT NOT NULL, hostname TEXT NOT NULL,
  secret_hash BLOB NOT NULL, registered_at INTEGER NOT NULL, last_seen INTEGER NOT NULL, UNIQUE (key_id, machine_id));
CREATE INDEX hosts_contract ON hosts(support_id);
CREATE TABLE packages (id TEXT PRIMARY KEY, blob TEXT NOT NULL, format TEXT NOT NULL, name TEXT NOT NULL,
  version TEXT NOT NULL, arch TEXT NOT NULL, location TEXT NOT NULL, size INTEGER NOT NULL, meta BLOB NOT NULL);
CREATE TABLE publications (id INTEGER PRIMARY KEY AUTOINCREMENT, repo_id TEXT NOT NULL REFERENCES repos(id),
  created_at INTEGER NOT NULL, packages INTEGER NOT NULL, manifest TEXT NOT NULL);
CREATE INDEX publications_repo ON publications(repo_id);
CREATE TABLE settings (name TEXT PRIMARY KEY, value BLOB NOT NULL)
`}

// DB is the SQLite store.
type DB struct {
	*sqlstore.DB
}

// Open opens (creating and migrating) the database file at path.
func Open(ctx context.Context, path string) (*DB, error) {
	q := url.Values{}
	q.Add("_pragma", "busy_timeout(15000)")
	q.Add("_pragma", "journal_mode(WAL)")
	q.Add("_pragma", "synchronous(NORMAL)")
	q.Add("_pragma", "foreign_keys(1)")
	q.Set("_txlock", "immediate")
	db, err := sql.Open("sqlite", "file:"+path+"?"+q.Encode())
	if err != nil {
		return nil, fmt.Errorf("opening %s: %w", path, err)
	}
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("opening %s: %w", path, err)
	}
	s, err := sqlstore.New(ctx, db, sqlstore.Dialect{
		Name:       "sqlite",
		IsUnique:   func(err error) bool { return strings.Contains(err.Error(), "UNIQUE constraint failed") },
		Migrations: schema,
		Retryable: func(err error) bool {
			m := err.Error()
			return strings.Contains(m, "SQLITE_BUSY") || strings.Contains(m, "database is locked")
		},
	})
	if err != nil {
		db.Close()
		return nil, err
	}
	return &DB{s}, nil
}

var _ store.Store = (*DB)(nil)
