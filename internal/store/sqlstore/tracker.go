package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/enmei-project/enmei/internal/advisory"
	"github.com/enmei-project/enmei/internal/errs"
)

// bumpTracker advances the tracker sequence inside tx and returns the new
// value. The counter row's lock serialises tracker writers, so sequence
// order is commit order.
func (s *DB) bumpTracker(ctx context.Context, tx *sql.Tx) (int64, error) {
	if _, err := tx.ExecContext(ctx, `UPDATE counters SET value = value + 1 WHERE name = 'tracker'`); err != nil {
		return 0, err
	}
	var v int64
	err := tx.QueryRowContext(ctx, `SELECT value FROM counters WHERE name = 'tracker'`).Scan(&v)
	return v, err
}

// TrackerSeq implements store.Tracker.
func (s *DB) TrackerSeq(ctx context.Context) (int64, error) {
	var v int64
	err := s.db.QueryRowContext(ctx, `SELECT value FROM counters WHERE name = 'tracker'`).Scan(&v)
	return v, err
}

// PutAdvisories implements store.Tracker.
func (s *DB) PutAdvisories(ctx context.Context, advs []advisory.Advisory, seeds []advisory.Record, at time.Time) ([]string, error) {
	var released []string
	err := s.tx(ctx, func(tx *sql.Tx) error {
		released = released[:0]
		seq, err := s.bumpTracker(ctx, tx)
		if err != nil {
			return err
		}
		put, err := tx.PrepareContext(ctx, s.q(`INSERT INTO advisories (id, body, seq) VALUES (?, ?, ?)
			ON CONFLICT (id) DO UPDATE SET body = excluded.body, seq = excluded.seq RETURNING released_at`))
		if err != nil {
			return err
		}
		defer put.Close()
		dropRepos, err := tx.PrepareContext(ctx, s.q(`DELETE FROM advisory_repos WHERE advisory_id = ?`))
		if err != nil {
			return err
		}
		defer dropRepos.Close()
		addRepo, err := tx.PrepareContext(ctx, s.q(`INSERT INTO advisory_repos (repo_id, advisory_id) VALUES (?, ?) ON CONFLICT DO NOTHING`))
		if err != nil {
			return err
		}
		defer addRepo.Close()
		for _, a := range advs {
			a.Released = time.Time{} // the column holds it
			body, err := json.Marshal(a)
			if err != nil {
				return err
			}
			var rel int64
			if err := put.QueryRowContext(ctx, a.ID, body, seq).Scan(&rel); err != nil {
				return fmt.Errorf("storing advisory %s: %w", a.ID, err)
			}
			if rel != 0 {
				released = append(released, a.ID)
			}
			if _, err := dropRepos.ExecContext(ctx, a.ID); err != nil {
				return err
			}
			seen := map[string]bool{}
			for _, p := range a.Packages {
				if seen[p.Repo] {
					continue
				}
				seen[p.Repo] = true
				if _, err := addRepo.ExecContext(ctx, p.Repo, a.ID); err != nil {
					return err
				}
			}
		}
		if len(seeds) == 0 {
			return nil
		}
		// Seeds create missing records; existing ones only gain what
		// they lack, so a vendor's own assessment is never overwritten.
		seed, err := tx.PrepareContext(ctx, s.q(`INSERT INTO cve_records (cve, product, status, cvss3, cvss4, score10, published, packages, updated_at, seq)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (cve, product) DO UPDATE SET
			packages = CASE WHEN cve_records.packages = '' THEN excluded.packages ELSE cve_records.packages END,
			cvss3 = CASE WHEN cve_records.cvss3 = '' AND cve_records.cvss4 = '' THEN excluded.cvss3 ELSE cve_records.cvss3 END,
			cvss4 = CASE WHEN cve_records.cvss3 = '' AND cve_records.cvss4 = '' THEN excluded.cvss4 ELSE cve_records.cvss4 END,
			score10 = CASE WHEN cve_records.cvss3 = '' AND cve_records.cvss4 = '' THEN excluded.score10 ELSE cve_records.score10 END,
			published = CASE WHEN cve_records.published = '' THEN excluded.published ELSE cve_records.published END,
			seq = excluded.seq`))
		if err != nil {
			return err
		}
		defer seed.Close()
		hist, err := tx.PrepareContext(ctx, s.q(`INSERT INTO cve_history (cve, product, at, from_status, to_status, source, seq) VALUES (?, ?, ?, '', ?, ?, ?)`))
		if err != nil {
			return err
		}
		defer hist.Close()
		exists, err := tx.PrepareContext(ctx, s.q(`SELECT COUNT(*) FROM cve_records WHERE cve = ? AND product = ?`))
		if err != nil {
			return err
		}
		defer exists.Close()
		for _, r := range seeds {
			var n int
			if err := exists.QueryRowContext(ctx, r.CVE, r.Product).Scan(&n); err != nil {
				return err
			}
			if _, err := seed.ExecContext(ctx, r.CVE, r.Product, string(r.Status), r.CVSS3, r.CVSS4, score10(r.Score), r.Published, strings.Join(r.Packages, ","), ms(at), seq); err != nil {
				return fmt.Errorf("storing %s for %s: %w", r.CVE, r.Product, err)
			}
			if n == 0 {
				if _, err := hist.ExecContext(ctx, r.CVE, r.Product, ms(at), string(r.Status), sourceOf(r), seq); err != nil {
					return err
				}
			}
		}
		return nil
	})
	return released, err
}

// sourceOf names where a seed record came from: the advisory that fixed it.
func sourceOf(r advisory.Record) string {
	if len(r.Fixed) > 0 {
		return "advisory " + r.Fixed[0]
	}
	return ""
}

func score10(f float64) int { return int(math.Round(f * 10)) }

// ReserveAdvisoryNumbers implements store.Tracker.
func (s *DB) ReserveAdvisoryNumbers(ctx context.Context, prefix string, year, n int) (int, error) {
	name := fmt.Sprintf("advisory:%s-%d", prefix, year)
	var first int
	err := s.tx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, s.q(`INSERT INTO counters (name, value) VALUES (?, 0) ON CONFLICT (name) DO NOTHING`), name); err != nil {
			return err
		}
		var last int
		if err := tx.QueryRowContext(ctx, s.q(`SELECT value FROM counters WHERE name = ? `+s.d.ForUpdate), name).Scan(&last); err != nil {
			return err
		}
		// IDs the vendor gave by hand count too.
		head := fmt.Sprintf("%s-%d:", prefix, year)
		rows, err := tx.QueryContext(ctx, s.q(`SELECT id FROM advisories WHERE id LIKE ? ESCAPE '\'`), strings.ReplaceAll(head, "_", `\_`)+"%")
		if err != nil {
			return err
		}
		for rows.Next() {
			var id string
			if err := rows.Scan(&id); err != nil {
				rows.Close()
				return err
			}
			var k int
			if _, err := fmt.Sscanf(strings.TrimPrefix(id, head), "%d", &k); err == nil && strings.HasPrefix(id, head) && k > last {
				last = k
			}
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		first = last + 1
		_, err = tx.ExecContext(ctx, s.q(`UPDATE counters SET value = ? WHERE name = ?`), last+n, name)
		return err
	})
	return first, err
}

func scanAdvisory(sc scanner) (advisory.Advisory, error) {
	var body []byte
	var released, seq int64
	if err := sc.Scan(&body, &released, &seq); err != nil {
		return advisory.Advisory{}, err
	}
	var a advisory.Advisory
	if err := json.Unmarshal(body, &a); err != nil {
		return a, fmt.Errorf("reading a stored advisory: %w", err)
	}
	if released != 0 {
		a.Released = fromMS(released)
	}
	a.Seq = seq
	return a, nil
}

// Advisory implements store.Tracker.
func (s *DB) Advisory(ctx context.Context, id string) (advisory.Advisory, error) {
	a, err := scanAdvisory(s.db.QueryRowContext(ctx, s.q(`SELECT body, released_at, seq FROM advisories WHERE id = ?`), id))
	return a, notFound(err, "no advisory %s: see enmeid advisory list", id)
}

// Advisories implements store.Tracker.
func (s *DB) Advisories(ctx context.Context, since int64, releasedOnly bool) ([]advisory.Advisory, error) {
	q := `SELECT body, released_at, seq FROM advisories WHERE seq > ?`
	if releasedOnly {
		q += ` AND released_at <> 0`
	}
	return queryAll(ctx, s, q+` ORDER BY seq, id`, []any{since}, scanAdvisory)
}

// RepoAdvisories implements store.Tracker.
func (s *DB) RepoAdvisories(ctx context.Context, repo string) ([]advisory.Advisory, error) {
	return queryAll(ctx, s, `SELECT a.body, a.released_at, a.seq FROM advisory_repos r JOIN advisories a ON a.id = r.advisory_id
		WHERE r.repo_id = ? AND a.released_at <> 0 ORDER BY a.id`, []any{repo}, scanAdvisory)
}

// ReleaseAdvisories implements store.Tracker.
func (s *DB) ReleaseAdvisories(ctx context.Context, ids []string, at time.Time) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		seq, err := s.bumpTracker(ctx, tx)
		if err != nil {
			return err
		}
		products := map[string]string{}
		rows, err := tx.QueryContext(ctx, `SELECT id, product_id FROM repos`)
		if err != nil {
			return err
		}
		for rows.Next() {
			var id, p string
			if err := rows.Scan(&id, &p); err != nil {
				rows.Close()
				return err
			}
			products[id] = p
		}
		rows.Close()
		for _, id := range ids {
			a, err := scanAdvisory(tx.QueryRowContext(ctx, s.q(`SELECT body, released_at, seq FROM advisories WHERE id = ?`), id))
			if err != nil {
				return notFound(err, "no advisory %s: add it with enmeid advisory add first", id)
			}
			when := at
			if !a.Released.IsZero() {
				when = a.Released
			}
			if _, err := tx.ExecContext(ctx, s.q(`UPDATE advisories SET released_at = ?, seq = ? WHERE id = ?`), ms(when), seq, id); err != nil {
				return err
			}
			for _, product := range a.Products(func(r string) string { return products[r] }) {
				for _, c := range a.CVEs {
					if err := s.releaseRecord(ctx, tx, a, c, product, at, seq); err != nil {
						return err
					}
				}
			}
		}
		return nil
	})
}

func (s *DB) releaseRecord(ctx context.Context, tx *sql.Tx, a advisory.Advisory, c advisory.CVERef, product string, at time.Time, seq int64) error {
	r, err := scanRecord(tx.QueryRowContext(ctx, s.q(`SELECT `+recordCols+` FROM cve_records WHERE cve = ? AND product = ?`), c.ID, product))
	fresh := err == sql.ErrNoRows
	if err != nil && !fresh {
		return err
	}
	from := r.Status
	if fresh {
		r = advisory.Record{CVE: c.ID, Product: product, CVSS3: c.CVSS, CVSS4: c.CVSS4, Published: c.Published}
		if err := r.SetScore(); err != nil {
			return err
		}
	}
	for _, f := range r.Fixed {
		if f == a.ID {
			return nil // released before: nothing changes
		}
	}
	r.Fixed = append(r.Fixed, a.ID)
	r.Status = advisory.Released
	if err := s.writeRecord(ctx, tx, r, at, seq); err != nil {
		return err
	}
	if from == advisory.Released {
		return nil
	}
	_, err = tx.ExecContext(ctx, s.q(`INSERT INTO cve_history (cve, product, at, from_status, to_status, statement, source, seq) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`),
		r.CVE, r.Product, ms(at), string(from), string(advisory.Released), r.Statement, "advisory "+a.ID, seq)
	return err
}

const recordCols = `cve, product, status, statement, justification, cvss3, cvss4, score10, published, override_targeted, override_reason, fixed, packages, updated_at, seq`

func scanRecord(sc scanner) (advisory.Record, error) {
	var r advisory.Record
	var status, fixed, pkgs, reason string
	var s10, override int
	var updated int64
	err := sc.Scan(&r.CVE, &r.Product, &status, &r.Statement, &r.Justification, &r.CVSS3, &r.CVSS4, &s10, &r.Published, &override, &reason, &fixed, &pkgs, &updated, &r.Seq)
	r.Status = advisory.Status(status)
	r.Score = float64(s10) / 10
	if override >= 0 {
		r.Override = &advisory.Override{Targeted: override == 1, Reason: reason}
	}
	if fixed != "" {
		r.Fixed = strings.Split(fixed, ",")
	}
	if pkgs != "" {
		r.Packages = strings.Split(pkgs, ",")
	}
	r.Updated = fromMS(updated)
	return r, err
}

func (s *DB) writeRecord(ctx context.Context, tx *sql.Tx, r advisory.Record, at time.Time, seq int64) error {
	override, reason := -1, ""
	if r.Override != nil {
		override, reason = 0, r.Override.Reason
		if r.Override.Targeted {
			override = 1
		}
	}
	_, err := tx.ExecContext(ctx, s.q(`INSERT INTO cve_records (`+recordCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (cve, product) DO UPDATE SET status = excluded.status, packages = excluded.packages, statement = excluded.statement, justification = excluded.justification,
		cvss3 = excluded.cvss3, cvss4 = excluded.cvss4, score10 = excluded.score10, published = excluded.published,
		override_targeted = excluded.override_targeted, override_reason = excluded.override_reason, fixed = excluded.fixed,
		updated_at = excluded.updated_at, seq = excluded.seq`),
		r.CVE, r.Product, string(r.Status), r.Statement, r.Justification, r.CVSS3, r.CVSS4, score10(r.Score), r.Published,
		override, reason, strings.Join(r.Fixed, ","), strings.Join(r.Packages, ","), ms(at), seq)
	return err
}

// SetCVE implements store.Tracker.
func (s *DB) SetCVE(ctx context.Context, r advisory.Record, source string) error {
	at := r.Updated
	if at.IsZero() {
		at = time.Now()
	}
	return s.tx(ctx, func(tx *sql.Tx) error {
		seq, err := s.bumpTracker(ctx, tx)
		if err != nil {
			return err
		}
		old, err := scanRecord(tx.QueryRowContext(ctx, s.q(`SELECT `+recordCols+` FROM cve_records WHERE cve = ? AND product = ? `+s.d.ForUpdate), r.CVE, r.Product))
		fresh := err == sql.ErrNoRows
		if err != nil && !fresh {
			return err
		}
		if !fresh && r.Fixed == nil {
			r.Fixed = old.Fixed
		}
		if err := s.writeRecord(ctx, tx, r, at, seq); err != nil {
			return fmt.Errorf("storing %s for %s: %w", r.CVE, r.Product, err)
		}
		if !fresh && old.Status == r.Status && old.Statement == r.Statement {
			return nil
		}
		_, err = tx.ExecContext(ctx, s.q(`INSERT INTO cve_history (cve, product, at, from_status, to_status, statement, source, seq) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`),
			r.CVE, r.Product, ms(at), string(old.Status), string(r.Status), r.Statement, source, seq)
		return err
	})
}

// CVERecord implements store.Tracker.
func (s *DB) CVERecord(ctx context.Context, cve, product string) (advisory.Record, error) {
	r, err := scanRecord(s.db.QueryRowContext(ctx, s.q(`SELECT `+recordCols+` FROM cve_records WHERE cve = ? AND product = ?`), cve, product))
	if err == sql.ErrNoRows {
		return r, errs.E(errs.NotFound, "%s has no record for product %s: see enmeid cve list", cve, product)
	}
	return r, err
}

// CVERecords implements store.Tracker.
func (s *DB) CVERecords(ctx context.Context, since int64) ([]advisory.Record, error) {
	return queryAll(ctx, s, `SELECT `+recordCols+` FROM cve_records WHERE seq > ? ORDER BY seq, cve, product`, []any{since}, scanRecord)
}

// changeCols reads the history row's id as Change.Seq: it orders every
// change, one by one, so a reader paging with a limit never skips one.
const changeCols = `cve, product, at, from_status, to_status, statement, source, id`

func scanChange(sc scanner) (advisory.Change, error) {
	var c advisory.Change
	var at int64
	var from, to string
	err := sc.Scan(&c.CVE, &c.Product, &at, &from, &to, &c.Statement, &c.Source, &c.Seq)
	c.At, c.From, c.To = fromMS(at), advisory.Status(from), advisory.Status(to)
	return c, err
}

// CVEHistory implements store.Tracker.
func (s *DB) CVEHistory(ctx context.Context, cve string) ([]advisory.Change, error) {
	return queryAll(ctx, s, `SELECT `+changeCols+` FROM cve_history WHERE cve = ? ORDER BY id`, []any{cve}, scanChange)
}

// CVEChanges implements store.Tracker.
func (s *DB) CVEChanges(ctx context.Context, since int64, limit int) ([]advisory.Change, error) {
	return queryAll(ctx, s, `SELECT `+changeCols+` FROM cve_history WHERE id > ? ORDER BY id LIMIT ?`, []any{since, limit}, scanChange)
}
