// Package vendorops is what a vendor does to contracts, seats and
// publications, written once for the three ways a vendor acts: the enmeid
// command line, the web console and the admin HTTP API. Each front-end only
// parses its input and renders the result, so a rule (a developer contract
// needs five developers and maven products, a renewal needs a new end date)
// holds the same everywhere.
package vendorops

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/enmei-project/enmei/internal/account"

	"github.com/enmei-project/enmei/internal/agentrepo"
	"github.com/enmei-project/enmei/internal/entitle"
	"github.com/enmei-project/enmei/internal/errs"
	"github.com/enmei-project/enmei/internal/store"
)

// Store is what the operations read and change.
type Store interface {
	Product(ctx context.Context, id string) (store.Product, error)
	AddContract(ctx context.Context, c store.Contract, keys []store.LicenseKey) error
	AddDeveloperContract(ctx context.Context, c store.Contract, a store.DeveloperAccount) error
	Hosts(ctx context.Context, supportID string, now time.Time) ([]store.Host, error)
	SeatSpans(ctx context.Context, supportID string, from, to time.Time) ([]store.SeatSpan, error)
	Contract(ctx context.Context, supportID string) (store.Contract, error)
	ListContracts(ctx context.Context) ([]store.Contract, error)
	RenewContract(ctx context.Context, supportID, end string) error
	ReleaseSeat(ctx context.Context, supportID, hostID string) error
}

// Ops performs vendor operations.
type Ops struct {
	Store Store
	Now   func() time.Time
	// Rollback re-publishes an earlier publication (it needs the signing
	// key, which the caller holds); nil means rollbacks are not possible here.
	Rollback func(ctx context.Context, repoID string, id int64) (store.Publication, error)
	// Released is told a host's seat was released, so caches in this
	// process forget the host at once (nil: none).
	Released func(hostID string)
}

// Issued is what a new contract is delivered with, shown once: the
// licence keys of a seat plan, or a developer plan's account and initial
// password. Only hashes are stored.
type Issued struct {
	Keys     []string // in product order; seat plans only
	Account  string   // developer plan
	Password string   // developer plan: the initial password
}

// NewContract creates a contract with one licence key per product (or, on
// the developer plan, its one account) and returns what it was issued
// with. The secrets exist nowhere else once the caller has shown them.
func (o *Ops) NewContract(ctx context.Context, c store.Contract) (store.Contract, Issued, error) {
	return o.NewContractWith(ctx, c, nil)
}

// NewContractWith is NewContract with a step run after the contract is
// checked and its secrets are made, before anything is stored (writing the
// support certificate): if it fails, no contract exists.
func (o *Ops) NewContractWith(ctx context.Context, c store.Contract, before func(store.Contract, Issued) error) (store.Contract, Issued, error) {
	c.SupportID = entitle.NewSupportID(o.Now())
	c.CreatedAt = o.Now()
	var out Issued
	if err := entitle.CheckNew(c); err != nil {
		return c, out, err
	}
	var recs []store.LicenseKey
	for _, id := range c.Products {
		p, err := o.Store.Product(ctx, id)
		if err != nil {
			return c, out, err
		}
		if agentrepo.Reserved(p) {
			return c, out, errs.E(errs.Invalid, "%s is the agent's public repository, which anyone may use without a contract: it is not sold", p.ID)
		}
		if err := entitle.CheckOnSale(p.ID, p.EOL, o.Now()); err != nil {
			return c, out, err
		}
		if p.InitialOnly {
			if err := o.firstContract(ctx, c.Customer, p.ID); err != nil {
				return c, out, err
			}
		}
		if c.Plan == "developer" {
			if p.Format != "maven" {
				return c, out, errs.E(errs.Invalid, "product %s is delivered as %s packages to registered hosts, which the developer plan does not cover: the developer plan is for maven-format products; use the server or container plan", p.ID, p.Format)
			}
			continue
		}
		if p.Format == "maven" {
			return c, out, errs.E(errs.Invalid, "product %s is a maven repository, which hosts do not register for: sell it on the developer plan (--plan developer)", p.ID)
		}
		k, keyID, hash := entitle.NewLicenseKey()
		out.Keys = append(out.Keys, k)
		recs = append(recs, store.LicenseKey{ID: keyID, SupportID: c.SupportID, ProductID: id, Hash: hash})
	}
	var acct store.DeveloperAccount
	if c.Plan == "developer" {
		out.Account, out.Password = entitle.NewDeveloperAccount(), entitle.NewInitialPassword()
		acct = store.DeveloperAccount{Name: out.Account, SupportID: c.SupportID, PasswordHash: account.HashPassword(out.Password), CreatedAt: c.CreatedAt}
	}
	if before != nil {
		if err := before(c, out); err != nil {
			return c, Issued{}, err
		}
	}
	var err error
	if c.Plan == "developer" {
		err = o.Store.AddDeveloperContract(ctx, c, acct)
	} else {
		err = o.Store.AddContract(ctx, c, recs)
	}
	if err != nil {
		return c, Issued{}, err
	}
	return c, out, nil
}

// firstContract refuses an initial-only option for a customer who already
// has a contract: the option is sold only with the first one.
func (o *Ops) firstContract(ctx context.Context, customer, productID string) error {
	all, err := o.Store.ListContracts(ctx)
	if err != nil {
		return err
	}
	for _, c := range all {
		if strings.EqualFold(strings.TrimSpace(c.Customer), strings.TrimSpace(customer)) {
			return errs.E(errs.Invalid, "product %s is an option sold only with a customer's first contract, and %s already has contract %s", productID, c.Customer, c.SupportID)
		}
	}
	return nil
}

// DailyPeaks returns the peak of concurrent seats per day and product of a
// contract, for the days first through last (YYYY-MM-DD, Asia/Tokyo).
func (o *Ops) DailyPeaks(ctx context.Context, c store.Contract, first, last string, now time.Time) ([]entitle.DailyPeak, error) {
	from, err := entitle.ParseDate(first)
	if err != nil {
		return nil, err
	}
	to, err := entitle.ParseDate(last)
	if err != nil {
		return nil, err
	}
	spans, err := o.Store.SeatSpans(ctx, c.SupportID, from, to.AddDate(0, 0, 1))
	if err != nil {
		return nil, fmt.Errorf("reading the seat history of %s: %w", c.SupportID, err)
	}
	return entitle.DailyPeaks(spans, c.Products, first, last, now)
}

// Renew sets a contract's end date; keys, hosts and certificates stay. A
// later date extends the contract; an earlier one shortens it, and one in
// the past ends it at once.
func (o *Ops) Renew(ctx context.Context, supportID, end string) (store.Contract, error) {
	if _, err := entitle.ParseDate(end); err != nil {
		return store.Contract{}, err
	}
	c, err := o.Store.Contract(ctx, supportID)
	if err != nil {
		return c, err
	}
	// An earlier end date is allowed: a date in the past ends the
	// contract at once (a cancellation); the caller warns about it.
	if end < c.Start {
		return c, errs.E(errs.Invalid, "the new end date %s is before the contract's start %s", end, c.Start)
	}
	if end == c.End {
		return c, errs.E(errs.Invalid, "the contract already ends on %s", end)
	}
	if end > c.End {
		for _, id := range c.Products {
			p, err := o.Store.Product(ctx, id)
			if err != nil {
				return c, err
			}
			if err := entitle.CheckOnSale(p.ID, p.EOL, o.Now()); err != nil {
				return c, errs.E(errs.Invalid, "contract %s cannot be renewed: %s", c.SupportID, err.Error())
			}
		}
	}
	if err := o.Store.RenewContract(ctx, c.SupportID, end); err != nil {
		return c, err
	}
	c.End = end
	return c, nil
}

// ReleaseSeat frees the seat of a contract's host; the host's credential
// stops working.
func (o *Ops) ReleaseSeat(ctx context.Context, supportID, hostID string) error {
	if err := o.Store.ReleaseSeat(ctx, supportID, hostID); err != nil {
		return err
	}
	if o.Released != nil {
		o.Released(hostID)
	}
	return nil
}

// RollbackTo makes a new publication of an earlier one's packages.
func (o *Ops) RollbackTo(ctx context.Context, repoID string, id int64) (store.Publication, error) {
	if o.Rollback == nil {
		return store.Publication{}, errs.E(errs.Invalid, "rollbacks need the signing key, which this process does not hold: use enmeid publication rollback")
	}
	return o.Rollback(ctx, repoID, id)
}
