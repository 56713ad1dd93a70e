// Package vendorops is what a vendor does to contracts, seats and
// publications, written once for the three ways a vendor acts: the enmeid
// command line, the web console and the admin HTTP API. Each front-end only
// parses its input and renders the result, so a rule (the developer plan is
// not available yet, a renewal must move the end date forward) holds the same
// everywhere.
package vendorops

import (
	"context"
	"time"

	"github.com/enmei-project/enmei/internal/entitle"
	"github.com/enmei-project/enmei/internal/errs"
	"github.com/enmei-project/enmei/internal/store"
)

// Store is what the operations read and change.
type Store interface {
	Product(ctx context.Context, id string) (store.Product, error)
	AddContract(ctx context.Context, c store.Contract, keys []store.LicenseKey) error
	Contract(ctx context.Context, supportID string) (store.Contract, error)
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

// NewContract creates a contract with one licence key per product and
// returns it with the keys in product order. Only the keys' hashes are
// stored: the keys exist nowhere else once the caller has shown them.
func (o *Ops) NewContract(ctx context.Context, c store.Contract) (store.Contract, []string, error) {
	return o.NewContractWith(ctx, c, nil)
}

// NewContractWith is NewContract with a step run after the contract is
// checked and its keys are made, before anything is stored (writing the
// support certificate): if it fails, no contract exists.
func (o *Ops) NewContractWith(ctx context.Context, c store.Contract, before func(store.Contract, []string) error) (store.Contract, []string, error) {
	c.SupportID = entitle.NewSupportID(o.Now())
	c.CreatedAt = o.Now()
	if err := entitle.CheckNew(c); err != nil {
		return c, nil, err
	}
	if c.Plan == "developer" {
		return c, nil, errs.E(errs.Invalid, "developer-plan accounts are not available yet: use the server or container plan")
	}
	var keys []string
	var recs []store.LicenseKey
	for _, p := range c.Products {
		if _, err := o.Store.Product(ctx, p); err != nil {
			return c, nil, err
		}
		k, id, hash := entitle.NewLicenseKey()
		keys = append(keys, k)
		recs = append(recs, store.LicenseKey{ID: id, SupportID: c.SupportID, ProductID: p, Hash: hash})
	}
	if before != nil {
		if err := before(c, keys); err != nil {
			return c, nil, err
		}
	}
	if err := o.Store.AddContract(ctx, c, recs); err != nil {
		return c, nil, err
	}
	return c, keys, nil
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
