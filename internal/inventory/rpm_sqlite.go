package inventory

import (
	"context"
	"database/sql"
	"errors"
	"net/url"
	"path/filepath"
	"strings"

	"modernc.org/sqlite"
)

// sqliteBlobs calls add with every package header of an rpm SQLite
// database (rpm 4.16+: the Packages table of hnum and blob). The database
// is opened read-only, as rpm -q opens it, so nothing is written beside the
// host's database; its write-ahead log, which rpm leaves in place, is read
// through SQLite as rpm would.
func sqliteBlobs(ctx context.Context, path string, add func([]byte) error) error {
	abs, err := filepath.Abs(path)
	if err != nil {
		return err
	}
	// A "file:" URI, so that SQLite itself sees mode=ro (a plain name's
	// query is dropped by the driver).
	dsn := "file:" + (&url.URL{Path: filepath.ToSlash(abs)}).EscapedPath() + "?mode=ro"
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return err
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	rows, err := db.QueryContext(ctx,
		"SELECT hnum, length(blob), CASE WHEN length(blob) <= ? THEN blob END FROM Packages ORDER BY hnum", maxHeader)
	if err != nil {
		return sqliteErr(err)
	}
	defer rows.Close()
	for rows.Next() {
		var hnum int64
		var n sql.NullInt64
		var blob []byte
		if err := rows.Scan(&hnum, &n, &blob); err != nil {
			return sqliteErr(err)
		}
		if blob == nil {
			return damagef("package %d's header is %d bytes long", hnum, n.Int64)
		}
		if err := add(blob); err != nil {
			return err
		}
	}
	return sqliteErr(rows.Err())
}

// sqliteErr marks SQLite's verdicts on the file's content (corrupt, not a
// database, no Packages table) as damage; other errors (permission, I/O)
// stay as they are.
func sqliteErr(err error) error {
	if err == nil {
		return nil
	}
	var se *sqlite.Error
	if errors.As(err, &se) {
		switch se.Code() & 0xff {
		case 11, 26: // SQLITE_CORRUPT, SQLITE_NOTADB
			return damagef("%v", err)
		}
	}
	if strings.Contains(err.Error(), "no such table") || strings.Contains(err.Error(), "no such column") {
		return damagef("it is a SQLite database without rpm's Packages table")
	}
	return err
}
