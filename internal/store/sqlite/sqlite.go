// Package sqlite is enmei's embedded store: SQLite through the pure-Go
// modernc.org/sqlite driver, in WAL mode. Every write transaction is BEGIN
// IMMEDIATE, so it holds the database's write lock from its first statement:
// seat claims from `enmeid serve` and from admin commands running at the same
// time, in other processes, are serialised and never over-allocate.
package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	_ "modernc.org/sqlite" // registers the "sqlite" driver

	"github.com/enmei-project/enmei/internal/store"
	"github.com/enmei-project/enmei/internal/store/sqlstore"
)

// DB is the SQLite store.
type DB struct {
	*sqlstore.DB
}

// Open opens (creating and migrating) the database file at path. A new
// file is created mode 0600: it holds credential hashes.
// Processes that open a new database at the same moment can find it busy
// while another switches it to WAL or migrates it; Open retries for a while.
func Open(ctx context.Context, path string) (*DB, error) {
	deadline := time.Now().Add(20 * time.Second)
	for {
		db, err := open(ctx, path)
		if err == nil || !busy(err) || time.Now().After(deadline) {
			return db, err
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func busy(err error) bool {
	m := err.Error()
	return strings.Contains(m, "SQLITE_BUSY") || strings.Contains(m, "database is locked")
}

func open(ctx context.Context, path string) (*DB, error) {
	if f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600); err == nil {
		f.Close()
	} else if !errors.Is(err, fs.ErrExist) {
		return nil, fmt.Errorf("creating %s: %w", path, err)
	}
	q := url.Values{}
	q.Add("_pragma", "busy_timeout(15000)")
	q.Add("_pragma", "journal_mode(WAL)")
	q.Add("_pragma", "synchronous(NORMAL)")
	q.Add("_pragma", "foreign_keys(1)")
	// Deleted rows are overwritten, not left in free pages (DeleteSetting).
	q.Add("_pragma", "secure_delete(1)")
	q.Set("_txlock", "immediate")
	// A file: URI, with the path escaped so that '?', '#' and '%' in it
	// are not read as URI syntax.
	db, err := sql.Open("sqlite", "file:"+(&url.URL{Path: filepath.Clean(path)}).EscapedPath()+"?"+q.Encode())
	if err != nil {
		return nil, fmt.Errorf("opening %s: %w", path, err)
	}
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("opening %s: %w", path, err)
	}
	s, err := sqlstore.New(ctx, db, sqlstore.Dialect{
		Name:      "sqlite",
		IsUnique:  func(err error) bool { return strings.Contains(err.Error(), "UNIQUE constraint failed") },
		Types:     map[string]string{"bytes": "BLOB", "int64": "INTEGER", "serial": "INTEGER PRIMARY KEY AUTOINCREMENT"},
		Retryable: busy,
		Scrub:     []string{"VACUUM", "PRAGMA wal_checkpoint(TRUNCATE)"},
	})
	if err != nil {
		db.Close()
		return nil, err
	}
	return &DB{s}, nil
}

var _ store.Store = (*DB)(nil)
