// Package sqlstore implements store.Store once, over database/sql, for every
// SQL backend. A Dialect supplies what differs — placeholders, row locking,
// error codes and the migration steps — so the SQLite and PostgreSQL
// backends are thin and the rules (seat counting, the current publication)
// are written, and reviewed, in one place.
package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/enmei-project/enmei/internal/errs"
	"github.com/enmei-project/enmei/internal/store"
)

// Dialect is what differs between SQL backends.
type Dialect struct {
	Name string
	// Numbered rewrites "?" placeholders as "$1", "$2", … (PostgreSQL).
	Numbered bool
	// ForUpdate is appended to the licence-key lookup of a seat claim to lock
	// the key row ("FOR UPDATE"); "" where the transaction already holds the
	// database's write lock (SQLite BEGIN IMMEDIATE).
	ForUpdate string
	// IsUnique reports a unique-constraint violation.
	IsUnique func(error) bool
	// Types fills Schema's {{bytes}}, {{int64}} and {{serial}}.
	Types map[string]string
	// LockMigrations runs first in each migration transaction ("" for none).
	LockMigrations string
	// Retryable reports a transient conflict worth retrying (busy database,
	// serialization failure).
	Retryable func(error) bool
	// LockKey takes a transaction-scoped lock on a string key ("?"), so
	// check-then-insert rules such as rate limits hold under concurrency;
	// "" where the transaction already holds the database's write lock.
	LockKey string
	// Scrub runs after a setting is deleted, so the deleted value leaves no
	// copy in free pages, the WAL or dead tuples (a private key once stored
	// must not survive in the database files).
	Scrub []string
}

// DB is a store.Store over a SQL database.
type DB struct {
	db *sql.DB
	d  Dialect
}

// New wraps an open database and brings its schema up to date, or, under
// a context made by NoMigrate, checks that it is.
func New(ctx context.Context, db *sql.DB, d Dialect) (*DB, error) {
	s := &DB{db: db, d: d}
	if ctx.Value(noMigrateKey{}) != nil {
		v, err := s.SchemaVersion(ctx)
		if err != nil {
			return nil, errs.E(errs.Invalid, "the %s database has no schema enmei can read (%v): run enmeid migrate first", d.Name, err)
		}
		if v < len(Schema) {
			return nil, errs.E(errs.Invalid, "the database schema is at version %d and this enmeid needs %d: run enmeid migrate first (or start without --no-migrate)", v, len(Schema))
		}
		return s, nil
	}
	if err := s.migrate(ctx); err != nil {
		return nil, err
	}
	return s, nil
}

type noMigrateKey struct{}

// NoMigrate returns a context under which New leaves the schema alone and
// only checks it is at least this version's: replicas of a rolling upgrade
// start after one enmeid migrate, and version N keeps running on N+1's
// schema (every step is additive).
func NoMigrate(ctx context.Context) context.Context {
	return context.WithValue(ctx, noMigrateKey{}, true)
}

// SQL exposes the database handle (for backend-specific maintenance).
func (s *DB) SQL() *sql.DB { return s.db }

// Close implements store.Store.
func (s *DB) Close() error { return s.db.Close() }

func (s *DB) q(query string) string {
	if !s.d.Numbered {
		return query
	}
	var b strings.Builder
	n := 0
	for _, c := range query {
		if c == '?' {
			n++
			b.WriteString("$" + strconv.Itoa(n))
			continue
		}
		b.WriteRune(c)
	}
	return b.String()
}

func (s *DB) migrate(ctx context.Context) error {
	if _, err := s.db.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at BIGINT NOT NULL)`); err != nil && !s.d.IsUnique(err) {
		return fmt.Errorf("migrating %s: %w", s.d.Name, err)
	}
	for i, step := range Schema {
		for k, v := range s.d.Types {
			step = strings.ReplaceAll(step, "{{"+k+"}}", v)
		}
		version := i + 1
		err := s.tx(ctx, func(tx *sql.Tx) error {
			if s.d.LockMigrations != "" {
				if _, err := tx.ExecContext(ctx, s.d.LockMigrations); err != nil {
					return err
				}
			}
			var n int
			if err := tx.QueryRowContext(ctx, s.q(`SELECT COUNT(*) FROM schema_migrations WHERE version = ?`), version).Scan(&n); err != nil {
				return err
			}
			if n > 0 {
				return nil
			}
			for _, stmt := range strings.Split(step, ";\n") {
				if strings.TrimSpace(stmt) == "" {
					continue
				}
				if _, err := tx.ExecContext(ctx, stmt); err != nil {
					return fmt.Errorf("step %d: %w", version, err)
				}
			}
			_, err := tx.ExecContext(ctx, s.q(`INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)`), version, time.Now().Unix())
			return err
		})
		if err != nil {
			return fmt.Errorf("migrating %s schema to version %d: %w", s.d.Name, version, err)
		}
	}
	return nil
}

// tx runs f in a transaction, retrying transient conflicts.
func (s *DB) tx(ctx context.Context, f func(*sql.Tx) error) error {
	var err error
	for attempt := 0; attempt < 20; attempt++ {
		err = s.tryTx(ctx, f)
		if err == nil || s.d.Retryable == nil || !s.d.Retryable(err) {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(time.Duration(attempt+1) * 10 * time.Millisecond):
		}
	}
	return err
}

func (s *DB) tryTx(ctx context.Context, f func(*sql.Tx) error) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	if err := f(tx); err != nil {
		tx.Rollback()
		return err
	}
	return tx.Commit()
}

// Schema is the versioned migration steps, written once for every dialect:
// {{bytes}}, {{int64}} and {{serial}} stand for the dialect's types. Never
// edit a released step; add one. Steps must be additive, so that version N
// and N+1 of enmeid can run side by side during a rolling upgrade.
var Schema = []string{`
CREATE TABLE products (id TEXT PRIMARY KEY, name TEXT NOT NULL, format TEXT NOT NULL, eol TEXT NOT NULL DEFAULT '');
CREATE TABLE repos (id TEXT PRIMARY KEY, product_id TEXT NOT NULL REFERENCES products(id), format TEXT NOT NULL,
  arch TEXT NOT NULL DEFAULT '', suite TEXT NOT NULL DEFAULT '', component TEXT NOT NULL DEFAULT '',
  current_pub {{int64}} NOT NULL DEFAULT 0);
CREATE INDEX repos_product ON repos(product_id);
CREATE TABLE contracts (support_id TEXT PRIMARY KEY, customer TEXT NOT NULL, end_user TEXT NOT NULL DEFAULT '',
  plan TEXT NOT NULL, products TEXT NOT NULL, quantity INTEGER NOT NULL, start_date TEXT NOT NULL, end_date TEXT NOT NULL,
  contact TEXT NOT NULL, created_at {{int64}} NOT NULL);
CREATE TABLE license_keys (id TEXT PRIMARY KEY, support_id TEXT NOT NULL REFERENCES contracts(support_id),
  product_id TEXT NOT NULL, hash {{bytes}} NOT NULL UNIQUE);
CREATE INDEX license_keys_contract ON license_keys(support_id);
CREATE TABLE hosts (id TEXT PRIMARY KEY, support_id TEXT NOT NULL, product_id TEXT NOT NULL,
  key_id TEXT NOT NULL REFERENCES license_keys(id), machine_id TEXT NOT NULL, hostname TEXT NOT NULL,
  secret_hash {{bytes}} NOT NULL, registered_at {{int64}} NOT NULL, last_seen {{int64}} NOT NULL, UNIQUE (key_id, machine_id));
CREATE INDEX hosts_contract ON hosts(support_id);
CREATE TABLE packages (id TEXT PRIMARY KEY, blob TEXT NOT NULL, format TEXT NOT NULL, name TEXT NOT NULL,
  version TEXT NOT NULL, arch TEXT NOT NULL, location TEXT NOT NULL, size {{int64}} NOT NULL, meta {{bytes}} NOT NULL);
CREATE TABLE publications (id {{serial}}, repo_id TEXT NOT NULL REFERENCES repos(id),
  created_at {{int64}} NOT NULL, packages INTEGER NOT NULL, manifest TEXT NOT NULL);
CREATE INDEX publications_repo ON publications(repo_id);
CREATE TABLE settings (name TEXT PRIMARY KEY, value {{bytes}} NOT NULL)
`, `
ALTER TABLE products ADD COLUMN os_id TEXT NOT NULL DEFAULT '';
ALTER TABLE products ADD COLUMN os_version TEXT NOT NULL DEFAULT '';
ALTER TABLE packages ADD COLUMN input TEXT NOT NULL DEFAULT '';
ALTER TABLE packages ADD COLUMN signer TEXT NOT NULL DEFAULT '';
ALTER TABLE packages ADD COLUMN touched_at {{int64}} NOT NULL DEFAULT 0;
CREATE INDEX packages_input ON packages(input);
ALTER TABLE publications ADD COLUMN rollback_of {{int64}} NOT NULL DEFAULT 0;
CREATE TABLE leases (id TEXT PRIMARY KEY, started_at {{int64}} NOT NULL, expires_at {{int64}} NOT NULL)
`, `
CREATE TABLE outbox (id {{serial}}, to_addr TEXT NOT NULL, subject TEXT NOT NULL, message {{bytes}} NOT NULL,
  status TEXT NOT NULL, attempts INTEGER NOT NULL DEFAULT 0, last_error TEXT NOT NULL DEFAULT '',
  created_at {{int64}} NOT NULL, next_at {{int64}} NOT NULL, sent_at {{int64}} NOT NULL DEFAULT 0);
CREATE INDEX outbox_due ON outbox(status, next_at);
CREATE TABLE users (email TEXT PRIMARY KEY, role TEXT NOT NULL, password_hash TEXT NOT NULL DEFAULT '', created_at {{int64}} NOT NULL);
CREATE TABLE api_tokens (name TEXT PRIMARY KEY, role TEXT NOT NULL, hash {{bytes}} NOT NULL UNIQUE, created_at {{int64}} NOT NULL);
CREATE TABLE links (hash {{bytes}} PRIMARY KEY, purpose TEXT NOT NULL, subject TEXT NOT NULL,
  created_at {{int64}} NOT NULL, expires_at {{int64}} NOT NULL, used_at {{int64}} NOT NULL DEFAULT 0);
CREATE INDEX links_subject ON links(purpose, subject, created_at);
CREATE TABLE sessions (hash {{bytes}} PRIMARY KEY, kind TEXT NOT NULL, subject TEXT NOT NULL,
  created_at {{int64}} NOT NULL, expires_at {{int64}} NOT NULL);
CREATE INDEX sessions_subject ON sessions(kind, subject);
ALTER TABLE hosts ADD COLUMN os TEXT NOT NULL DEFAULT ''
`, `
ALTER TABLE packages ADD COLUMN facts {{bytes}};
CREATE TABLE certificates (serial TEXT PRIMARY KEY, support_id TEXT NOT NULL REFERENCES contracts(support_id),
  not_before {{int64}} NOT NULL, not_after {{int64}} NOT NULL, issued_at {{int64}} NOT NULL,
  der {{bytes}}, downloaded_at {{int64}} NOT NULL DEFAULT 0, revoked_at {{int64}} NOT NULL DEFAULT 0, revoke_reason TEXT NOT NULL DEFAULT '');
CREATE INDEX certificates_contract ON certificates(support_id)
`, `
CREATE TABLE counters (name TEXT PRIMARY KEY, value {{int64}} NOT NULL);
INSERT INTO counters (name, value) VALUES ('tracker', 0);
CREATE TABLE advisories (id TEXT PRIMARY KEY, body {{bytes}} NOT NULL, released_at {{int64}} NOT NULL DEFAULT 0, seq {{int64}} NOT NULL);
CREATE INDEX advisories_seq ON advisories(seq);
CREATE TABLE advisory_repos (advisory_id TEXT NOT NULL, repo_id TEXT NOT NULL, PRIMARY KEY (advisory_id, repo_id));
CREATE INDEX advisory_repos_repo ON advisory_repos(repo_id);
CREATE TABLE cve_records (cve TEXT NOT NULL, product TEXT NOT NULL, status TEXT NOT NULL, statement TEXT NOT NULL DEFAULT '',
  justification TEXT NOT NULL DEFAULT '', cvss3 TEXT NOT NULL DEFAULT '', cvss4 TEXT NOT NULL DEFAULT '', score10 INTEGER NOT NULL DEFAULT 0,
  published TEXT NOT NULL DEFAULT '', override_targeted INTEGER NOT NULL DEFAULT -1, override_reason TEXT NOT NULL DEFAULT '',
  fixed TEXT NOT NULL DEFAULT '', packages TEXT NOT NULL DEFAULT '', updated_at {{int64}} NOT NULL, seq {{int64}} NOT NULL, PRIMARY KEY (cve, product));
CREATE INDEX cve_records_seq ON cve_records(seq);
CREATE TABLE cve_history (id {{serial}}, cve TEXT NOT NULL, product TEXT NOT NULL, at {{int64}} NOT NULL,
  from_status TEXT NOT NULL, to_status TEXT NOT NULL, statement TEXT NOT NULL DEFAULT '', source TEXT NOT NULL DEFAULT '', seq {{int64}} NOT NULL);
CREATE INDEX cve_history_cve ON cve_history(cve);
CREATE INDEX cve_history_seq ON cve_history(seq)
`, `
CREATE TABLE subscriptions (id TEXT PRIMARY KEY, email TEXT NOT NULL, name TEXT NOT NULL, company TEXT NOT NULL DEFAULT '',
  lang TEXT NOT NULL, products TEXT NOT NULL DEFAULT '', statuses TEXT NOT NULL DEFAULT '',
  created_at {{int64}} NOT NULL, confirmed_at {{int64}} NOT NULL DEFAULT 0, unsubscribed_at {{int64}} NOT NULL DEFAULT 0);
CREATE INDEX subscriptions_email ON subscriptions(email);
CREATE TABLE webhooks (id TEXT PRIMARY KEY, url TEXT NOT NULL, secret TEXT NOT NULL, products TEXT NOT NULL DEFAULT '',
  statuses TEXT NOT NULL DEFAULT '', created_at {{int64}} NOT NULL);
CREATE TABLE webhook_deliveries (id {{serial}}, webhook_id TEXT NOT NULL, body {{bytes}} NOT NULL, status TEXT NOT NULL,
  attempts INTEGER NOT NULL DEFAULT 0, last_error TEXT NOT NULL DEFAULT '', created_at {{int64}} NOT NULL, next_at {{int64}} NOT NULL,
  sent_at {{int64}} NOT NULL DEFAULT 0);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries(status, next_at)
`, `
ALTER TABLE license_keys ADD COLUMN seat_clock {{int64}} NOT NULL DEFAULT 0;
ALTER TABLE hosts ADD COLUMN lease_ttl {{int64}} NOT NULL DEFAULT 0;
ALTER TABLE hosts ADD COLUMN lease_expires {{int64}} NOT NULL DEFAULT 0;
CREATE INDEX hosts_lease ON hosts(key_id, lease_expires);
CREATE INDEX hosts_expiry ON hosts(lease_expires);
CREATE TABLE seat_spans (id {{serial}}, host_id TEXT NOT NULL, support_id TEXT NOT NULL, product_id TEXT NOT NULL,
  start_at {{int64}} NOT NULL, end_at {{int64}} NOT NULL);
CREATE INDEX seat_spans_host ON seat_spans(host_id);
CREATE INDEX seat_spans_contract ON seat_spans(support_id, start_at);
INSERT INTO seat_spans (host_id, support_id, product_id, start_at, end_at) SELECT id, support_id, product_id, registered_at, 0 FROM hosts;
CREATE TABLE developer_accounts (name TEXT PRIMARY KEY, support_id TEXT NOT NULL UNIQUE REFERENCES contracts(support_id),
  password_hash TEXT NOT NULL, created_at {{int64}} NOT NULL, changed_at {{int64}} NOT NULL DEFAULT 0)
`, `
ALTER TABLE products ADD COLUMN full_until TEXT NOT NULL DEFAULT '';
ALTER TABLE products ADD COLUMN security_until TEXT NOT NULL DEFAULT '';
ALTER TABLE products ADD COLUMN extended_until TEXT NOT NULL DEFAULT '';
ALTER TABLE products ADD COLUMN initial_only INTEGER NOT NULL DEFAULT 0
`, `
ALTER TABLE contracts ADD COLUMN lang TEXT NOT NULL DEFAULT 'ja';
ALTER TABLE contracts ADD COLUMN inquiries INTEGER NOT NULL DEFAULT 2;
CREATE INDEX contracts_contact ON contracts(contact);
CREATE TABLE tickets (num {{serial}}, support_id TEXT NOT NULL REFERENCES contracts(support_id), subject TEXT NOT NULL,
  status TEXT NOT NULL, waiting TEXT NOT NULL DEFAULT '', consumed INTEGER NOT NULL DEFAULT 0, year_start TEXT NOT NULL DEFAULT '',
  confirm_word TEXT NOT NULL DEFAULT '', lang TEXT NOT NULL, contact TEXT NOT NULL, opened_at {{int64}} NOT NULL,
  due_at {{int64}} NOT NULL, responded_at {{int64}} NOT NULL DEFAULT 0, closed_at {{int64}} NOT NULL DEFAULT 0,
  vendor_fault INTEGER NOT NULL DEFAULT 0, scope_level INTEGER NOT NULL DEFAULT 0, out_of_scope TEXT NOT NULL DEFAULT '',
  priority INTEGER NOT NULL DEFAULT 0);
CREATE INDEX tickets_contract ON tickets(support_id, status);
CREATE TABLE ticket_messages (id {{serial}}, ticket {{int64}} NOT NULL REFERENCES tickets(num), direction TEXT NOT NULL,
  message_id TEXT NOT NULL, from_addr TEXT NOT NULL, subject TEXT NOT NULL, body TEXT NOT NULL, attachments TEXT NOT NULL,
  at {{int64}} NOT NULL);
CREATE INDEX ticket_messages_ticket ON ticket_messages(ticket);
CREATE INDEX ticket_messages_mid ON ticket_messages(message_id);
CREATE TABLE contact_changes (id {{serial}}, support_id TEXT NOT NULL REFERENCES contracts(support_id), email TEXT NOT NULL,
  effective TEXT NOT NULL, requested_at {{int64}} NOT NULL);
CREATE INDEX contact_changes_contract ON contact_changes(support_id);
CREATE INDEX contact_changes_email ON contact_changes(email);
CREATE TABLE notices (id {{serial}}, title TEXT NOT NULL, body TEXT NOT NULL, start_at {{int64}} NOT NULL, end_at {{int64}} NOT NULL,
  products TEXT NOT NULL, emergency INTEGER NOT NULL, rrule TEXT NOT NULL, created_at {{int64}} NOT NULL)
`, `
ALTER TABLE hosts ADD COLUMN virt TEXT NOT NULL DEFAULT '';
ALTER TABLE hosts ADD COLUMN counted INTEGER NOT NULL DEFAULT 1;
ALTER TABLE contracts ADD COLUMN els_updates INTEGER NOT NULL DEFAULT 0;
INSERT INTO counters (name, value) VALUES ('generation', 0)
`, `
CREATE TABLE upgrade_rules (product_id TEXT NOT NULL REFERENCES products(id), package_name TEXT NOT NULL, to_line TEXT NOT NULL,
  from_lines TEXT NOT NULL, via_line TEXT NOT NULL DEFAULT '', note TEXT NOT NULL DEFAULT '',
  PRIMARY KEY (product_id, package_name, to_line));
CREATE INDEX packages_name ON packages(name)
`, `
ALTER TABLE repos ADD COLUMN mirror TEXT NOT NULL DEFAULT ''
`, `
ALTER TABLE contracts ADD COLUMN allow_mirror INTEGER NOT NULL DEFAULT 0;
ALTER TABLE contracts ADD COLUMN allow_offline INTEGER NOT NULL DEFAULT 0;
CREATE TABLE mirror_accounts (id TEXT PRIMARY KEY, support_id TEXT NOT NULL UNIQUE REFERENCES contracts(support_id),
  secret_hash {{bytes}} NOT NULL, created_at {{int64}} NOT NULL)
`}

// nonNil stores an empty value as empty bytes, not NULL.
func nonNil(b []byte) []byte {
	if b == nil {
		return []byte{}
	}
	return b
}

func ms(t time.Time) int64 { return t.UnixMilli() }

type scanner interface{ Scan(...any) error }

// queryAll runs a query and scans every row with scan.
func queryAll[T any](ctx context.Context, s *DB, query string, args []any, scan func(scanner) (T, error)) ([]T, error) {
	rows, err := s.db.QueryContext(ctx, s.q(query), args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []T
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}

func fromMS(v int64) time.Time { return time.UnixMilli(v).UTC() }

func notFound(err error, format string, args ...any) error {
	if errors.Is(err, sql.ErrNoRows) {
		return errs.E(errs.NotFound, format, args...)
	}
	return err
}

// AddProduct implements store.Store.
func (s *DB) AddProduct(ctx context.Context, p store.Product) error {
	_, err := s.db.ExecContext(ctx, s.q(`INSERT INTO products (`+productCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`), p.ID, p.Name, p.Format, p.EOL, p.OSID, p.OSVersion,
		p.FullUntil, p.SecurityUntil, p.ExtendedUntil, boolInt(p.InitialOnly))
	if err != nil && s.d.IsUnique(err) {
		return errs.E(errs.Exists, "product %q already exists", p.ID)
	}
	if err != nil {
		return fmt.Errorf("adding product %s: %w", p.ID, err)
	}
	return nil
}

const productCols = `id, name, format, eol, os_id, os_version, full_until, security_until, extended_until, initial_only`

func scanProduct(sc scanner) (store.Product, error) {
	var p store.Product
	var initial int
	err := sc.Scan(&p.ID, &p.Name, &p.Format, &p.EOL, &p.OSID, &p.OSVersion, &p.FullUntil, &p.SecurityUntil, &p.ExtendedUntil, &initial)
	p.InitialOnly = initial != 0
	return p, err
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// UpdateProduct implements store.Catalog.
func (s *DB) UpdateProduct(ctx context.Context, p store.Product) error {
	res, err := s.db.ExecContext(ctx, s.q(`UPDATE products SET name = ?, eol = ?, full_until = ?, security_until = ?, extended_until = ?, initial_only = ? WHERE id = ?`),
		p.Name, p.EOL, p.FullUntil, p.SecurityUntil, p.ExtendedUntil, boolInt(p.InitialOnly), p.ID)
	if err != nil {
		return fmt.Errorf("updating product %s: %w", p.ID, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return errs.E(errs.NotFound, "no product %q: add it with enmeid product add", p.ID)
	}
	return nil
}

// Product implements store.Store.
func (s *DB) Product(ctx context.Context, id string) (store.Product, error) {
	p, err := scanProduct(s.db.QueryRowContext(ctx, s.q(`SELECT `+productCols+` FROM products WHERE id = ?`), id))
	return p, notFound(err, "no product %q: add it with enmeid product add", id)
}

// Products implements store.Store.
func (s *DB) Products(ctx context.Context) ([]store.Product, error) {
	return queryAll(ctx, s, `SELECT `+productCols+` FROM products WHERE format <> ? ORDER BY id`, []any{store.FormatAgent}, scanProduct)
}

const repoCols = `id, product_id, format, arch, suite, component, current_pub, mirror`

func scanRepo(sc scanner) (store.Repo, error) {
	var r store.Repo
	var mirror string
	if err := sc.Scan(&r.ID, &r.ProductID, &r.Format, &r.Arch, &r.Suite, &r.Component, &r.Current, &mirror); err != nil {
		return r, err
	}
	if mirror != "" {
		r.Mirror = new(store.Mirror)
		if err := json.Unmarshal([]byte(mirror), r.Mirror); err != nil {
			return r, fmt.Errorf("repository %s: mirror: %w", r.ID, err)
		}
	}
	return r, nil
}

// mirrorColumn is a repository's mirror as stored: "" for none.
func mirrorColumn(m *store.Mirror) (string, error) {
	if m == nil {
		return "", nil
	}
	b, err := json.Marshal(m)
	return string(b), err
}

// AddRepo implements store.Store.
func (s *DB) AddRepo(ctx context.Context, r store.Repo) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		var n int
		if err := tx.QueryRowContext(ctx, s.q(`SELECT COUNT(*) FROM products WHERE id = ?`), r.ProductID).Scan(&n); err != nil {
			return err
		}
		if n == 0 {
			return errs.E(errs.NotFound, "no product %q: add it with enmeid product add", r.ProductID)
		}
		mirror, err := mirrorColumn(r.Mirror)
		if err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, s.q(`INSERT INTO repos (`+repoCols+`) VALUES (?, ?, ?, ?, ?, ?, 0, ?)`),
			r.ID, r.ProductID, r.Format, r.Arch, r.Suite, r.Component, mirror)
		if err != nil && s.d.IsUnique(err) {
			return errs.E(errs.Exists, "repository %q already exists", r.ID)
		}
		return err
	})
}

// Repo implements store.Store.
func (s *DB) Repo(ctx context.Context, id string) (store.Repo, error) {
	r, err := scanRepo(s.db.QueryRowContext(ctx, s.q(`SELECT `+repoCols+` FROM repos WHERE id = ?`), id))
	return r, notFound(err, "no repository %q: add it with enmeid repo add", id)
}

// Repos implements store.Store.
func (s *DB) Repos(ctx context.Context, productID string) ([]store.Repo, error) {
	if productID == "" {
		return queryAll(ctx, s, `SELECT `+repoCols+` FROM repos ORDER BY id`, nil, scanRepo)
	}
	return queryAll(ctx, s, `SELECT `+repoCols+` FROM repos WHERE product_id = ? ORDER BY id`, []any{productID}, scanRepo)
}

// SetMirror implements store.Store.
func (s *DB) SetMirror(ctx context.Context, repoID string, m *store.Mirror) error {
	mirror, err := mirrorColumn(m)
	if err != nil {
		return err
	}
	res, err := s.db.ExecContext(ctx, s.q(`UPDATE repos SET mirror = ? WHERE id = ?`), mirror, repoID)
	if err != nil {
		return fmt.Errorf("recording the mirror of %s: %w", repoID, err)
	}
	if n, err := res.RowsAffected(); err == nil && n == 0 {
		return errs.E(errs.NotFound, "no repository %q: add it with enmeid repo add", repoID)
	}
	return nil
}

const contractCols = `support_id, customer, end_user, plan, products, quantity, start_date, end_date, contact, created_at, lang, inquiries, els_updates, allow_mirror, allow_offline`

func scanContract(sc scanner) (store.Contract, error) {
	var c store.Contract
	var products string
	var created int64
	var els, mirror, offline int
	if err := sc.Scan(&c.SupportID, &c.Customer, &c.EndUser, &c.Plan, &products, &c.Quantity, &c.Start, &c.End, &c.Contact, &created, &c.Lang, &c.Inquiries, &els, &mirror, &offline); err != nil {
		return c, err
	}
	c.CreatedAt, c.ELSUpdates = fromMS(created), els != 0
	c.AllowMirror, c.AllowOffline = mirror != 0, offline != 0
	if err := json.Unmarshal([]byte(products), &c.Products); err != nil {
		return c, fmt.Errorf("contract %s: products: %w", c.SupportID, err)
	}
	return c, nil
}

// AddContract implements store.Store.
func (s *DB) AddContract(ctx context.Context, c store.Contract, keys []store.LicenseKey) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		if err := s.insertContract(ctx, tx, c); err != nil {
			return err
		}
		for _, k := range keys {
			if _, err := tx.ExecContext(ctx, s.q(`INSERT INTO license_keys (id, support_id, product_id, hash) VALUES (?, ?, ?, ?)`),
				k.ID, c.SupportID, k.ProductID, k.Hash); err != nil {
				if s.d.IsUnique(err) {
					return errs.E(errs.Exists, "licence key %s of contract %s collides with an existing key: create the contract again", k.ID, c.SupportID)
				}
				return fmt.Errorf("storing licence key: %w", err)
			}
		}
		return nil
	})
}

func (s *DB) insertContract(ctx context.Context, tx *sql.Tx, c store.Contract) error {
	products, _ := json.Marshal(c.Products)
	_, err := tx.ExecContext(ctx, s.q(`INSERT INTO contracts (`+contractCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`),
		c.SupportID, c.Customer, c.EndUser, c.Plan, string(products), c.Quantity, c.Start, c.End, c.Contact, ms(c.CreatedAt), c.Language(),
		c.Allowance(), b2i(c.ELSUpdates), b2i(c.AllowMirror), b2i(c.AllowOffline))
	if err != nil && s.d.IsUnique(err) {
		return errs.E(errs.Exists, "contract %q already exists", c.SupportID)
	}
	return err
}

// Contract implements store.Store.
func (s *DB) Contract(ctx context.Context, supportID string) (store.Contract, error) {
	c, err := scanContract(s.db.QueryRowContext(ctx, s.q(`SELECT `+contractCols+` FROM contracts WHERE support_id = ?`), supportID))
	return c, notFound(err, "no contract %q: check the support ID", supportID)
}

// ListContracts implements store.Store.
func (s *DB) ListContracts(ctx context.Context) ([]store.Contract, error) {
	return queryAll(ctx, s, `SELECT `+contractCols+` FROM contracts ORDER BY created_at DESC, support_id`, nil, scanContract)
}

// LicenseKeys implements store.Store.
func (s *DB) LicenseKeys(ctx context.Context, supportID string) ([]store.LicenseKey, error) {
	return queryAll(ctx, s, `SELECT id, support_id, product_id, hash FROM license_keys WHERE support_id = ? ORDER BY id`, []any{supportID},
		func(sc scanner) (store.LicenseKey, error) {
			var k store.LicenseKey
			err := sc.Scan(&k.ID, &k.SupportID, &k.ProductID, &k.Hash)
			return k, err
		})
}

// LicenseKeyByHash implements store.Store.
func (s *DB) LicenseKeyByHash(ctx context.Context, hash []byte) (store.LicenseKey, error) {
	var k store.LicenseKey
	err := s.db.QueryRowContext(ctx, s.q(`SELECT id, support_id, product_id, hash FROM license_keys WHERE hash = ?`), hash).
		Scan(&k.ID, &k.SupportID, &k.ProductID, &k.Hash)
	if errors.Is(err, sql.ErrNoRows) {
		return k, store.ErrUnknownKey
	}
	return k, err
}

// RenewContract implements store.Store.
func (s *DB) RenewContract(ctx context.Context, supportID, end string) error {
	res, err := s.db.ExecContext(ctx, s.q(`UPDATE contracts SET end_date = ? WHERE support_id = ?`), end, supportID)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return errs.E(errs.NotFound, "no contract %q: check the support ID", supportID)
	}
	return nil
}

const hostCols = `id, support_id, product_id, key_id, machine_id, hostname, secret_hash, registered_at, last_seen, os, lease_ttl, lease_expires, virt, counted`

func scanHost(sc scanner) (store.Host, error) {
	var h store.Host
	var reg, seen, ttl, expires int64
	var counted int
	err := sc.Scan(&h.ID, &h.SupportID, &h.ProductID, &h.KeyID, &h.MachineID, &h.Hostname, &h.SecretHash, &reg, &seen, &h.OS, &ttl, &expires,
		&h.Virt, &counted)
	h.RegisteredAt, h.LastSeen, h.Uncounted = fromMS(reg), fromMS(seen), counted == 0
	if ttl > 0 {
		h.LeaseTTL, h.LeaseExpires = time.Duration(ttl)*time.Millisecond, fromMS(expires)
	}
	return h, err
}

// liveSeats is the condition on hosts (h) for holding a seat at a time (?).
const liveSeats = `(h.lease_ttl = 0 OR h.lease_expires > ?)`

// countedSeats is liveSeats less the hosts that take no seat (VMs of a
// virtualisation-platform contract).
const countedSeats = liveSeats + ` AND h.counted = 1`

// seatClock is the time a seat decision of the key is made at: t, or the
// time of the key's latest decision if that is later. Decisions of one key
// hold its lock, so their times never go backwards, whatever the clocks of
// the replicas or a request that waited for the lock: a lease found ended
// by one decision is never found live by a later one. It runs in the
// decision's transaction, which holds the key.
func (s *DB) seatClock(ctx context.Context, tx *sql.Tx, keyID string, t time.Time) (int64, error) {
	var last int64
	if err := tx.QueryRowContext(ctx, s.q(`SELECT seat_clock FROM license_keys WHERE id = ? `+s.d.ForUpdate), keyID).Scan(&last); err != nil {
		return 0, err
	}
	now := max(ms(t), last)
	if now != last {
		if _, err := tx.ExecContext(ctx, s.q(`UPDATE license_keys SET seat_clock = ? WHERE id = ?`), now, keyID); err != nil {
			return 0, err
		}
	}
	return now, nil
}

// freeSeat returns ErrNoSeat unless the key has fewer live seats at now
// than quantity. It runs in the claim's transaction, which holds the key.
// A host that takes no seat needs none (freeSeatFor).
func (s *DB) freeSeatFor(ctx context.Context, tx *sql.Tx, uncounted bool, keyID string, now int64, quantity int) error {
	if uncounted {
		return nil
	}
	return s.freeSeat(ctx, tx, keyID, now, quantity)
}

func (s *DB) freeSeat(ctx context.Context, tx *sql.Tx, keyID string, now int64, quantity int) error {
	var used int
	if err := tx.QueryRowContext(ctx, s.q(`SELECT COUNT(*) FROM hosts h WHERE h.key_id = ? AND `+countedSeats), keyID, now).Scan(&used); err != nil {
		return err
	}
	if used >= quantity {
		return store.ErrNoSeat
	}
	return nil
}

// openSpan records that a host took a seat at now, held until end (0: open).
func (s *DB) openSpan(ctx context.Context, tx *sql.Tx, h store.Host, now, end int64) error {
	_, err := tx.ExecContext(ctx, s.q(`INSERT INTO seat_spans (host_id, support_id, product_id, start_at, end_at) VALUES (?, ?, ?, ?, ?)`),
		h.ID, h.SupportID, h.ProductID, now, end)
	return err
}

// moveSpan sets the end of the host's span that is current at now (open,
// or ending after now) to end (0: open).
func (s *DB) moveSpan(ctx context.Context, tx *sql.Tx, hostID string, now, end int64) error {
	_, err := tx.ExecContext(ctx, s.q(`UPDATE seat_spans SET end_at = ? WHERE host_id = ? AND (end_at = 0 OR end_at > ?)`), end, hostID, now)
	return err
}

// leaseEnd is when a lease of ttl taken at now ends (0 for a server seat).
func leaseEnd(now int64, ttl time.Duration) int64 {
	if ttl <= 0 {
		return 0
	}
	return now + ttl.Milliseconds()
}

// ClaimSeat implements store.Store.
func (s *DB) ClaimSeat(ctx context.Context, claim store.SeatClaim) (store.Host, bool, error) {
	var host store.Host
	var reused bool
	err := s.tx(ctx, func(tx *sql.Tx) error {
		var key store.LicenseKey
		err := tx.QueryRowContext(ctx, s.q(`SELECT id, support_id, product_id FROM license_keys WHERE hash = ? `+s.d.ForUpdate), claim.KeyHash).
			Scan(&key.ID, &key.SupportID, &key.ProductID)
		if errors.Is(err, sql.ErrNoRows) {
			return store.ErrUnknownKey
		}
		if err != nil {
			return err
		}
		c, err := scanContract(tx.QueryRowContext(ctx, s.q(`SELECT `+contractCols+` FROM contracts WHERE support_id = ?`), key.SupportID))
		if err != nil {
			return err
		}
		if claim.Check != nil {
			if err := claim.Check(c); err != nil {
				return err
			}
		}
		if claim.Clock != nil {
			claim.Now = claim.Clock()
		}
		now, err := s.seatClock(ctx, tx, key.ID, claim.Now)
		if err != nil {
			return err
		}
		end := leaseEnd(now, claim.Lease)
		host, err = scanHost(tx.QueryRowContext(ctx, s.q(`SELECT `+hostCols+` FROM hosts WHERE key_id = ? AND machine_id = ?`), key.ID, claim.MachineID))
		if err == nil {
			reused = true
			if host.Live(fromMS(now)) {
				err = s.moveSpan(ctx, tx, host.ID, now, end)
			} else if err = s.freeSeatFor(ctx, tx, host.Uncounted, key.ID, now, c.Quantity); err == nil {
				// Its lease ended: the seat is taken again like a new one.
				err = s.openSpan(ctx, tx, host, now, end)
			}
			if err != nil {
				return err
			}
			host.SecretHash, host.Hostname, host.OS, host.LastSeen = claim.SecretHash, claim.Hostname, claim.OS, fromMS(now)
			host.LeaseTTL, host.LeaseExpires = 0, time.Time{}
			if end != 0 {
				host.LeaseTTL, host.LeaseExpires = claim.Lease, fromMS(end)
			}
			_, err = tx.ExecContext(ctx, s.q(`UPDATE hosts SET secret_hash = ?, hostname = ?, os = ?, last_seen = ?, lease_ttl = ?, lease_expires = ? WHERE id = ?`),
				claim.SecretHash, claim.Hostname, claim.OS, now, claim.Lease.Milliseconds(), end, host.ID)
			return err
		}
		if !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		uncounted := claim.Counted != nil && !claim.Counted(c)
		if err := s.freeSeatFor(ctx, tx, uncounted, key.ID, now, c.Quantity); err != nil {
			return err
		}
		host = store.Host{ID: claim.NewHostID, SupportID: key.SupportID, ProductID: key.ProductID, KeyID: key.ID,
			MachineID: claim.MachineID, Hostname: claim.Hostname, OS: claim.OS, SecretHash: claim.SecretHash,
			RegisteredAt: fromMS(now), LastSeen: fromMS(now), Virt: claim.Virt, Uncounted: uncounted}
		if end != 0 {
			host.LeaseTTL, host.LeaseExpires = claim.Lease, fromMS(end)
		}
		if _, err = tx.ExecContext(ctx, s.q(`INSERT INTO hosts (`+hostCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`),
			host.ID, host.SupportID, host.ProductID, host.KeyID, host.MachineID, host.Hostname, host.SecretHash, now, now, host.OS,
			max(claim.Lease, 0).Milliseconds(), end, host.Virt, b2i(!uncounted)); err != nil {
			return err
		}
		return s.openSpan(ctx, tx, host, now, end)
	})
	if err != nil {
		return store.Host{}, false, err
	}
	return host, reused, nil
}

// Host implements store.Store.
func (s *DB) Host(ctx context.Context, id string) (store.Host, error) {
	h, err := scanHost(s.db.QueryRowContext(ctx, s.q(`SELECT `+hostCols+` FROM hosts WHERE id = ?`), id))
	return h, notFound(err, "no host %q", id)
}

// Hosts implements store.Store.
func (s *DB) Hosts(ctx context.Context, supportID string, now time.Time) ([]store.Host, error) {
	return queryAll(ctx, s, `SELECT `+hostCols+` FROM hosts h WHERE support_id = ? AND `+liveSeats+` ORDER BY registered_at, id`,
		[]any{supportID, ms(now)}, scanHost)
}

// ReleaseSeat implements store.Store.
func (s *DB) ReleaseSeat(ctx context.Context, supportID, hostID string) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, s.q(`DELETE FROM hosts WHERE id = ? AND support_id = ?`), hostID, supportID)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return errs.E(errs.NotFound, "contract %s has no host %q: check enmeid contract show %s", supportID, hostID, supportID)
		}
		now := ms(time.Now())
		if err := s.moveSpan(ctx, tx, hostID, now, now); err != nil {
			return err
		}
		return bumpGeneration(ctx, tx)
	})
}

// bumpGeneration tells every replica's caches that something they may
// hold was revoked (a seat released, a password changed): they poll
// Generation and drop what they cached when it moves.
func bumpGeneration(ctx context.Context, tx *sql.Tx) error {
	_, err := tx.ExecContext(ctx, `UPDATE counters SET value = value + 1 WHERE name = 'generation'`)
	return err
}

// Generation implements store.Store.
func (s *DB) Generation(ctx context.Context) (int64, error) {
	var v int64
	err := s.db.QueryRowContext(ctx, `SELECT value FROM counters WHERE name = 'generation'`).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, nil
	}
	return v, err
}

// TouchHost implements store.Store.
func (s *DB) TouchHost(ctx context.Context, hostID string, t time.Time) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		var keyID string
		var ttl int64
		err := tx.QueryRowContext(ctx, s.q(`SELECT key_id, lease_ttl FROM hosts WHERE id = ?`), hostID).Scan(&keyID, &ttl)
		if errors.Is(err, sql.ErrNoRows) {
			return errs.E(errs.NotFound, "no host %q", hostID)
		}
		if err != nil {
			return err
		}
		now := ms(t)
		if ttl > 0 {
			// A renewal is a seat decision: it must not revive a lease a
			// claim already found ended.
			if now, err = s.seatClock(ctx, tx, keyID, t); err != nil {
				return err
			}
		}
		_, err = tx.ExecContext(ctx, s.q(`UPDATE hosts SET last_seen = ?,
			lease_expires = CASE WHEN lease_ttl > 0 AND lease_expires > ? THEN ? + lease_ttl ELSE lease_expires END WHERE id = ?`),
			now, now, now, hostID)
		if err != nil {
			return err
		}
		// Only a live lease's span ends after now; a server seat's is open.
		_, err = tx.ExecContext(ctx, s.q(`UPDATE seat_spans SET end_at = (SELECT lease_expires FROM hosts WHERE id = ?)
			WHERE host_id = ? AND end_at > ?`), hostID, hostID, now)
		return err
	})
}

// Heartbeat implements store.Store.
func (s *DB) Heartbeat(ctx context.Context, hostID string, t time.Time, check func(store.Contract) error) (store.Host, error) {
	var host store.Host
	err := s.tx(ctx, func(tx *sql.Tx) error {
		h, err := scanHost(tx.QueryRowContext(ctx, s.q(`SELECT `+hostCols+` FROM hosts WHERE id = ?`), hostID))
		if err != nil {
			return notFound(err, "no host %q", hostID)
		}
		// Lock the key as a claim does, so heartbeats and claims count seats one at a time.
		now, err := s.seatClock(ctx, tx, h.KeyID, t)
		if err != nil {
			return err
		}
		c, err := scanContract(tx.QueryRowContext(ctx, s.q(`SELECT `+contractCols+` FROM contracts WHERE support_id = ?`), h.SupportID))
		if err != nil {
			return err
		}
		if check != nil {
			if err := check(c); err != nil {
				return err
			}
		}
		end := leaseEnd(now, h.LeaseTTL)
		switch {
		case h.LeaseTTL == 0:
		case h.Live(fromMS(now)):
			err = s.moveSpan(ctx, tx, h.ID, now, end)
		default:
			if err = s.freeSeatFor(ctx, tx, h.Uncounted, h.KeyID, now, c.Quantity); err == nil {
				err = s.openSpan(ctx, tx, h, now, end)
			}
		}
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, s.q(`UPDATE hosts SET last_seen = ?, lease_expires = ? WHERE id = ?`), now, end, h.ID); err != nil {
			return err
		}
		h.LastSeen = fromMS(now)
		if end != 0 {
			h.LeaseExpires = fromMS(end)
		}
		host = h
		return nil
	})
	return host, err
}

// SeatCounts implements store.Store.
func (s *DB) SeatCounts(ctx context.Context, now time.Time) ([]store.SeatCount, error) {
	return queryAll(ctx, s, `SELECT k.support_id, k.product_id, c.quantity,
		(SELECT COUNT(*) FROM hosts h WHERE h.key_id = k.id AND `+countedSeats+`)
		FROM license_keys k JOIN contracts c ON c.support_id = k.support_id ORDER BY k.support_id, k.product_id`, []any{ms(now)},
		func(sc scanner) (store.SeatCount, error) {
			var c store.SeatCount
			err := sc.Scan(&c.SupportID, &c.ProductID, &c.Quantity, &c.Used)
			return c, err
		})
}

// SeatSpans implements store.Store.
func (s *DB) SeatSpans(ctx context.Context, supportID string, from, to time.Time) ([]store.SeatSpan, error) {
	return queryAll(ctx, s, `SELECT host_id, product_id, start_at, end_at FROM seat_spans
		WHERE support_id = ? AND start_at < ? AND (end_at = 0 OR end_at > ?) ORDER BY start_at, id`,
		[]any{supportID, ms(to), ms(from)},
		func(sc scanner) (store.SeatSpan, error) {
			var sp store.SeatSpan
			var start, end int64
			err := sc.Scan(&sp.HostID, &sp.ProductID, &start, &end)
			sp.Start = fromMS(start)
			if end != 0 {
				sp.End = fromMS(end)
			}
			return sp, err
		})
}

// PruneSeats implements store.Store.
func (s *DB) PruneSeats(ctx context.Context, expiredBefore, spansBefore time.Time) (int, error) {
	res, err := s.db.ExecContext(ctx, s.q(`DELETE FROM hosts WHERE lease_ttl > 0 AND lease_expires < ?`), ms(expiredBefore))
	if err != nil {
		return 0, err
	}
	n, _ := res.RowsAffected()
	if _, err := s.db.ExecContext(ctx, s.q(`DELETE FROM seat_spans WHERE end_at > 0 AND end_at < ?`), ms(spansBefore)); err != nil {
		return int(n), err
	}
	return int(n), nil
}

// PutPackages implements store.Store.
func (s *DB) PutPackages(ctx context.Context, pkgs []store.Package) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		// A stored ID keeps its record (the first one wins) but is marked
		// as used now, so a gc running beside this publish keeps it. SBOM
		// facts are the exception: a record stored without them (by an
		// older enmei) gets them from a republish.
		stmt, err := tx.PrepareContext(ctx, s.q(`INSERT INTO packages (`+packageCols+`, meta, touched_at, facts)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO UPDATE SET touched_at = excluded.touched_at,
			facts = CASE WHEN length(packages.facts) = 0 THEN excluded.facts ELSE packages.facts END`))
		if err != nil {
			return err
		}
		defer stmt.Close()
		now := ms(time.Now())
		for _, p := range pkgs {
			if _, err := stmt.ExecContext(ctx, p.ID, p.Blob, p.Format, p.Name, p.Version, p.Arch, p.Location, p.Size, p.Input, p.Signer, nonNil(p.Meta), now, nonNil(p.Facts)); err != nil {
				return fmt.Errorf("storing package %s: %w", p.Location, err)
			}
		}
		return nil
	})
}

// packageCols are a record's columns but its index entry (meta) and SBOM
// facts, which are read apart (PackageMetas, PackageFacts) so that a
// repository's records stay small in memory however large it grows.
const packageCols = `id, blob, format, name, version, arch, location, size, input, signer`

// PackageMetas implements store.Packages: 500 records per query, in the
// order of ids.
func (s *DB) PackageMetas(ctx context.Context, ids []string, f func(i int, meta []byte) error) error {
	const chunk = 500
	byID := make(map[string][]byte, chunk)
	for start := 0; start < len(ids); start += chunk {
		part := ids[start:min(start+chunk, len(ids))]
		args := make([]any, len(part))
		for i, id := range part {
			args[i] = id
		}
		clear(byID)
		rows, err := s.db.QueryContext(ctx, s.q(`SELECT id, meta FROM packages WHERE id IN (?`+strings.Repeat(", ?", len(part)-1)+`)`), args...)
		if err != nil {
			return err
		}
		for rows.Next() {
			var id string
			var meta []byte
			if err := rows.Scan(&id, &meta); err != nil {
				rows.Close()
				return err
			}
			byID[id] = meta
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		for i, id := range part {
			meta, ok := byID[id]
			if !ok {
				return errs.E(errs.NotFound, "package %s is not stored", id)
			}
			if err := f(start+i, meta); err != nil {
				return err
			}
		}
	}
	return nil
}

// PackageFacts implements store.Packages.
func (s *DB) PackageFacts(ctx context.Context, ids []string) (map[string][]byte, error) {
	out := make(map[string][]byte, len(ids))
	const chunk = 500
	for start := 0; start < len(ids); start += chunk {
		part := ids[start:min(start+chunk, len(ids))]
		args := make([]any, len(part))
		for i, id := range part {
			args[i] = id
		}
		rows, err := s.db.QueryContext(ctx, s.q(`SELECT id, facts FROM packages WHERE id IN (?`+strings.Repeat(", ?", len(part)-1)+`)`), args...)
		if err != nil {
			return nil, err
		}
		for rows.Next() {
			var id string
			var facts []byte
			if err := rows.Scan(&id, &facts); err != nil {
				rows.Close()
				return nil, err
			}
			if len(facts) > 0 {
				out[id] = facts
			}
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, err
		}
	}
	return out, nil
}

func (s *DB) queryPackages(ctx context.Context, query string, args []any, f func(store.Package)) error {
	rows, err := s.db.QueryContext(ctx, s.q(query), args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var p store.Package
		if err := rows.Scan(&p.ID, &p.Blob, &p.Format, &p.Name, &p.Version, &p.Arch, &p.Location, &p.Size, &p.Input, &p.Signer); err != nil {
			return err
		}
		f(p)
	}
	return rows.Err()
}

// PackagesByInput implements store.Store.
func (s *DB) PackagesByInput(ctx context.Context, inputs []string) ([]store.Package, error) {
	return s.packagesWhereIn(ctx, "input", inputs)
}

// packagesWhereIn reads the package records whose column is one of
// values, 500 values per statement (SQLite's and PostgreSQL's limits on
// bound parameters stay far away).
func (s *DB) packagesWhereIn(ctx context.Context, column string, values []string) ([]store.Package, error) {
	var out []store.Package
	const chunk = 500
	for start := 0; start < len(values); start += chunk {
		part := values[start:min(start+chunk, len(values))]
		args := make([]any, len(part))
		for i, v := range part {
			args[i] = v
		}
		err := s.queryPackages(ctx, `SELECT `+packageCols+` FROM packages WHERE `+column+` IN (?`+strings.Repeat(", ?", len(part)-1)+`)`, args,
			func(p store.Package) { out = append(out, p) })
		if err != nil {
			return nil, fmt.Errorf("reading packages by %s: %w", column, err)
		}
	}
	return out, nil
}

// PackageIDs implements store.Store. It pages by ID so no statement holds
// the database for long.
func (s *DB) PackageIDs(ctx context.Context, f func(id, blob string) error) error {
	after := ""
	for {
		rows, err := s.db.QueryContext(ctx, s.q(`SELECT id, blob FROM packages WHERE id > ? ORDER BY id LIMIT 1000`), after)
		if err != nil {
			return err
		}
		type rec struct{ id, blob string }
		var batch []rec
		for rows.Next() {
			var r rec
			if err := rows.Scan(&r.id, &r.blob); err != nil {
				rows.Close()
				return err
			}
			batch = append(batch, r)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		for _, r := range batch {
			if err := f(r.id, r.blob); err != nil {
				return err
			}
		}
		if len(batch) < 1000 {
			return nil
		}
		after = batch[len(batch)-1].id
	}
}

// DeletePackages implements store.Store.
func (s *DB) DeletePackages(ctx context.Context, ids []string, before time.Time) (int, error) {
	deleted := 0
	const chunk = 500
	for start := 0; start < len(ids); start += chunk {
		part := ids[start:min(start+chunk, len(ids))]
		args := []any{ms(before)}
		for _, id := range part {
			args = append(args, id)
		}
		res, err := s.db.ExecContext(ctx, s.q(`DELETE FROM packages WHERE touched_at < ? AND id IN (?`+strings.Repeat(", ?", len(part)-1)+`)`), args...)
		if err != nil {
			return deleted, fmt.Errorf("deleting package records: %w", err)
		}
		n, _ := res.RowsAffected()
		deleted += int(n)
	}
	return deleted, nil
}

// Packages implements store.Store.
func (s *DB) Packages(ctx context.Context, ids []string) ([]store.Package, error) {
	byID := make(map[string]store.Package, len(ids))
	const chunk = 500
	for start := 0; start < len(ids); start += chunk {
		part := ids[start:min(start+chunk, len(ids))]
		args := make([]any, len(part))
		for i, id := range part {
			args[i] = id
		}
		err := s.queryPackages(ctx, `SELECT `+packageCols+` FROM packages WHERE id IN (?`+strings.Repeat(", ?", len(part)-1)+`)`, args,
			func(p store.Package) { byID[p.ID] = p })
		if err != nil {
			return nil, err
		}
	}
	out := make([]store.Package, len(ids))
	for i, id := range ids {
		p, ok := byID[id]
		if !ok {
			return nil, errs.E(errs.NotFound, "package %s is not stored", id)
		}
		out[i] = p
	}
	return out, nil
}

const pubCols = `id, repo_id, created_at, packages, manifest, rollback_of`

func scanPub(sc scanner) (store.Publication, error) {
	var p store.Publication
	var created int64
	err := sc.Scan(&p.ID, &p.RepoID, &created, &p.Packages, &p.Manifest, &p.RollbackOf)
	p.CreatedAt = fromMS(created)
	return p, err
}

// CommitPublication implements store.Store.
func (s *DB) CommitPublication(ctx context.Context, p store.Publication) (int64, error) {
	var id int64
	err := s.tx(ctx, func(tx *sql.Tx) error {
		var current int64
		err := tx.QueryRowContext(ctx, s.q(`SELECT current_pub FROM repos WHERE id = ? `+s.d.ForUpdate), p.RepoID).Scan(&current)
		if errors.Is(err, sql.ErrNoRows) {
			return errs.E(errs.NotFound, "no repository %q", p.RepoID)
		}
		if err != nil {
			return err
		}
		if current != p.Base {
			return store.ErrConflict
		}
		err = tx.QueryRowContext(ctx, s.q(`INSERT INTO publications (repo_id, created_at, packages, manifest, rollback_of) VALUES (?, ?, ?, ?, ?) RETURNING id`),
			p.RepoID, ms(p.CreatedAt), p.Packages, p.Manifest, p.RollbackOf).Scan(&id)
		if err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, s.q(`UPDATE repos SET current_pub = ? WHERE id = ?`), id, p.RepoID)
		return err
	})
	return id, err
}

// Publication implements store.Store.
func (s *DB) Publication(ctx context.Context, id int64) (store.Publication, error) {
	p, err := scanPub(s.db.QueryRowContext(ctx, s.q(`SELECT `+pubCols+` FROM publications WHERE id = ?`), id))
	return p, notFound(err, "no publication %d", id)
}

// Publications implements store.Store.
func (s *DB) Publications(ctx context.Context, repoID string) ([]store.Publication, error) {
	if repoID == "" {
		return queryAll(ctx, s, `SELECT `+pubCols+` FROM publications ORDER BY id DESC`, nil, scanPub)
	}
	return queryAll(ctx, s, `SELECT `+pubCols+` FROM publications WHERE repo_id = ? ORDER BY id DESC`, []any{repoID}, scanPub)
}

// DeletePublications implements store.Store.
func (s *DB) DeletePublications(ctx context.Context, repoID string, ids []int64) error {
	if len(ids) == 0 {
		return nil
	}
	return s.tx(ctx, func(tx *sql.Tx) error {
		var current int64
		err := tx.QueryRowContext(ctx, s.q(`SELECT current_pub FROM repos WHERE id = ? `+s.d.ForUpdate), repoID).Scan(&current)
		if errors.Is(err, sql.ErrNoRows) {
			return errs.E(errs.NotFound, "no repository %q", repoID)
		}
		if err != nil {
			return err
		}
		for _, id := range ids {
			if id == current {
				return errs.E(errs.Invalid, "publication %d is the current publication of %s and cannot be deleted", id, repoID)
			}
			if _, err := tx.ExecContext(ctx, s.q(`DELETE FROM publications WHERE id = ? AND repo_id = ?`), id, repoID); err != nil {
				return fmt.Errorf("deleting publication %d: %w", id, err)
			}
		}
		return nil
	})
}

// TakeLease implements store.Store.
func (s *DB) TakeLease(ctx context.Context, id string, now, expires time.Time) error {
	_, err := s.db.ExecContext(ctx, s.q(`INSERT INTO leases (id, started_at, expires_at) VALUES (?, ?, ?)`), id, ms(now), ms(expires))
	if err != nil {
		return fmt.Errorf("taking lease %s: %w", id, err)
	}
	return nil
}

// DropLease implements store.Store.
func (s *DB) DropLease(ctx context.Context, id string) error {
	if _, err := s.db.ExecContext(ctx, s.q(`DELETE FROM leases WHERE id = ?`), id); err != nil {
		return fmt.Errorf("dropping lease %s: %w", id, err)
	}
	return nil
}

// OldestLease implements store.Store.
func (s *DB) OldestLease(ctx context.Context, now time.Time) (time.Time, error) {
	var oldest sql.NullInt64
	if err := s.db.QueryRowContext(ctx, s.q(`SELECT MIN(started_at) FROM leases WHERE expires_at > ?`), ms(now)).Scan(&oldest); err != nil {
		return time.Time{}, fmt.Errorf("reading leases: %w", err)
	}
	if !oldest.Valid {
		return time.Time{}, nil
	}
	return fromMS(oldest.Int64), nil
}

// Ping implements store.Store.
func (s *DB) Ping(ctx context.Context) error {
	var one int
	return s.db.QueryRowContext(ctx, `SELECT 1`).Scan(&one)
}

// SchemaVersion implements store.Store.
func (s *DB) SchemaVersion(ctx context.Context) (int, error) {
	var v sql.NullInt64
	err := s.db.QueryRowContext(ctx, `SELECT MAX(version) FROM schema_migrations`).Scan(&v)
	return int(v.Int64), err
}

// Setting implements store.Store.
func (s *DB) Setting(ctx context.Context, name string) ([]byte, error) {
	var v []byte
	err := s.db.QueryRowContext(ctx, s.q(`SELECT value FROM settings WHERE name = ?`), name).Scan(&v)
	return v, notFound(err, "no setting %q", name)
}

// PutSettingIfAbsent implements store.Store.
func (s *DB) PutSettingIfAbsent(ctx context.Context, name string, value []byte) ([]byte, error) {
	var stored []byte
	err := s.tx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, s.q(`INSERT INTO settings (name, value) VALUES (?, ?) ON CONFLICT (name) DO NOTHING`), name, nonNil(value)); err != nil {
			return err
		}
		return tx.QueryRowContext(ctx, s.q(`SELECT value FROM settings WHERE name = ?`), name).Scan(&stored)
	})
	return stored, err
}

// PutSetting implements store.Store.
func (s *DB) PutSetting(ctx context.Context, name string, value []byte) error {
	_, err := s.db.ExecContext(ctx, s.q(`INSERT INTO settings (name, value) VALUES (?, ?) ON CONFLICT (name) DO UPDATE SET value = excluded.value`), name, nonNil(value))
	if err != nil {
		return fmt.Errorf("storing setting %s: %w", name, err)
	}
	return nil
}

// DeleteSetting implements store.Store.
func (s *DB) DeleteSetting(ctx context.Context, name string) error {
	if _, err := s.db.ExecContext(ctx, s.q(`DELETE FROM settings WHERE name = ?`), name); err != nil {
		return fmt.Errorf("deleting setting %s: %w", name, err)
	}
	for _, stmt := range s.d.Scrub {
		if _, err := s.db.ExecContext(ctx, stmt); err != nil {
			return fmt.Errorf("scrubbing the database after deleting setting %s: %w", name, err)
		}
	}
	return nil
}

var _ store.Store = (*DB)(nil)
