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
		Name:     "sqlite",
		IsUnique: func(err error) bool { return strings.Contains(err.Error(), "UNIQUE constraint failed") },
		Types:    map[string]string{"bytes": "BLOB", "int64": "INTEGER", "serial": "INTEGER PRIMARY KEY AUTOINCREMENT"},
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
