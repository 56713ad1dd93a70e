package adminapi

import (
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/enmei-project/enmei/internal/entitle"
	"github.com/enmei-project/enmei/internal/errs"
	"github.com/enmei-project/enmei/internal/store"
)

// The JSON documents of the API; openapi.json describes each under
// components/schemas with the same name.

// Product is a product.
type Product struct {
	ID        string  `json:"id"`
	Name      string  `json:"name"`
	Format    string  `json:"format"`
	EOL       *string `json:"eol"` // null: none
	OSID      string  `json:"os_id"`
	OSVersion string  `json:"os_version"`
}

// Repo is a repository.
type Repo struct {
	ID        string `json:"id"`
	Product   string `json:"product"`
	Format    string `json:"format"`
	Arch      string `json:"arch"`
	Suite     string `json:"suite"`
	Component string `json:"component"`
	Current   *int64 `json:"current"` // null before the first publish
}

// Publication is one snapshot of a repository.
type Publication struct {
	ID         int64     `json:"id"`
	CreatedAt  time.Time `json:"created_at"`
	Packages   int       `json:"packages"`
	Current    bool      `json:"current"`
	RollbackOf *int64    `json:"rollback_of"` // null for a normal publish
}

// Rollback is the outcome of a rollback.
type Rollback struct {
	Repo       string `json:"repo"`
	Current    int64  `json:"current"`
	RollbackOf int64  `json:"rollback_of"`
	Packages   int    `json:"packages"`
}

// Contract is a contract as listed.
type Contract struct {
	SupportID string    `json:"support_id"`
	Customer  string    `json:"customer"`
	EndUser   string    `json:"end_user"`
	Plan      string    `json:"plan"`
	Products  []string  `json:"products"`
	Quantity  int       `json:"quantity"`
	Start     string    `json:"start"`
	End       string    `json:"end"`
	Contact   string    `json:"contact"`
	Valid     bool      `json:"valid"`
	CreatedAt time.Time `json:"created_at"`
}

// ContractDetail is a contract with its seats and hosts, as enmeid contract
// show --json prints it.
type ContractDetail struct {
	Contract
	SeatsUsed  int            `json:"seats_used"` // the most used of any product's key
	PerProduct []ProductSeats `json:"per_product"`
	Hosts      []Host         `json:"hosts"`
}

// ProductSeats is the seats of one product's licence key.
type ProductSeats struct {
	Product   string `json:"product"`
	Quantity  int    `json:"quantity"`
	SeatsUsed int    `json:"seats_used"`
}

// Host is a registered host holding a seat.
type Host struct {
	HostID       string    `json:"host_id"`
	Hostname     string    `json:"hostname"`
	Product      string    `json:"product"`
	RegisteredAt time.Time `json:"registered_at"`
	LastSeen     time.Time `json:"last_seen"`
	// LeaseExpires is when an ephemeral seat's lease ends (null for a
	// server seat).
	LeaseExpires *time.Time `json:"lease_expires"`
}

// NewContractRequest is the body of POST /api/v1/admin/contracts.
type NewContractRequest struct {
	Customer string   `json:"customer"`
	EndUser  string   `json:"end_user"`
	Products []string `json:"products"`
	Plan     string   `json:"plan"` // "" means server
	Quantity int      `json:"quantity"`
	Start    string   `json:"start"`
	End      string   `json:"end"`
	Contact  string   `json:"contact"`
}

// NewContract is the answer to a created contract: the only time its
// licence keys are shown.
type NewContract struct {
	SupportID   string            `json:"support_id"`
	LicenseKeys map[string]string `json:"license_keys"` // product → key
	// Account and Password are a developer-plan contract's account and
	// initial password (absent otherwise).
	Account  string `json:"account,omitempty"`
	Password string `json:"password,omitempty"`
}

// RenewRequest is the body of POST …/contracts/{support_id}/renew.
type RenewRequest struct {
	End string `json:"end"`
}

// Renewal is a renewed contract's period.
type Renewal struct {
	SupportID string `json:"support_id"`
	Start     string `json:"start"`
	End       string `json:"end"`
}

// Mail is a message of the outbox, without its body (it may hold a sign-in
// link).
type Mail struct {
	ID        int64      `json:"id"`
	To        string     `json:"to"`
	Subject   string     `json:"subject"`
	Status    string     `json:"status"`
	Attempts  int        `json:"attempts"`
	LastError string     `json:"last_error"`
	CreatedAt time.Time  `json:"created_at"`
	SentAt    *time.Time `json:"sent_at"` // null until sent
}

// Outbox listing bounds.
const (
	defaultOutboxLimit = 50
	maxOutboxLimit     = 1000
)

func (a *API) products(w http.ResponseWriter, r *http.Request, _ store.APIToken) error {
	ps, err := a.cfg.Store.Products(r.Context())
	if err != nil {
		return fmt.Errorf("listing products: %w", err)
	}
	out := make([]Product, 0, len(ps))
	for _, p := range ps {
		var eol *string
		if p.EOL != "" {
			eol = &p.EOL
		}
		out = append(out, Product{ID: p.ID, Name: p.Name, Format: p.Format, EOL: eol, OSID: p.OSID, OSVersion: p.OSVersion})
	}
	return writeJSON(w, http.StatusOK, out)
}

func (a *API) repos(w http.ResponseWriter, r *http.Request, _ store.APIToken) error {
	rs, err := a.cfg.Store.Repos(r.Context(), "")
	if err != nil {
		return fmt.Errorf("listing repositories: %w", err)
	}
	out := make([]Repo, 0, len(rs))
	for _, rp := range rs {
		out = append(out, Repo{ID: rp.ID, Product: rp.ProductID, Format: rp.Format, Arch: rp.Arch,
			Suite: rp.Suite, Component: rp.Component, Current: nonZero(rp.Current)})
	}
	return writeJSON(w, http.StatusOK, out)
}

func (a *API) publications(w http.ResponseWriter, r *http.Request, _ store.APIToken) error {
	repo, err := a.cfg.Store.Repo(r.Context(), r.PathValue("repo"))
	if err != nil {
		return fmt.Errorf("looking up repository %q: %w", r.PathValue("repo"), err)
	}
	pubs, err := a.cfg.Store.Publications(r.Context(), repo.ID)
	if err != nil {
		return fmt.Errorf("listing publications of %s: %w", repo.ID, err)
	}
	out := make([]Publication, 0, len(pubs))
	for _, p := range pubs {
		out = append(out, Publication{ID: p.ID, CreatedAt: p.CreatedAt.UTC(), Packages: p.Packages,
			Current: p.ID == repo.Current, RollbackOf: nonZero(p.RollbackOf)})
	}
	return writeJSON(w, http.StatusOK, out)
}

func (a *API) rollback(w http.ResponseWriter, r *http.Request, tok store.APIToken) error {
	repo := r.PathValue("repo")
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id < 1 {
		return errs.E(errs.Invalid, "%q is not a publication ID: see GET %s/repos/%s/publications", r.PathValue("id"), prefix, repo)
	}
	pub, err := a.cfg.Ops.RollbackTo(r.Context(), repo, id)
	if err != nil {
		return fmt.Errorf("rolling %s back to publication %d: %w", repo, id, err)
	}
	a.logChange(r, tok, "publication.rollback", "repo", repo, "rollback_of", id, "publication", pub.ID)
	return writeJSON(w, http.StatusOK, Rollback{Repo: repo, Current: pub.ID, RollbackOf: id, Packages: pub.Packages})
}

func (a *API) contractJSON(c store.Contract) Contract {
	products := c.Products
	if products == nil {
		products = []string{}
	}
	return Contract{SupportID: c.SupportID, Customer: c.Customer, EndUser: c.EndUser, Plan: c.Plan,
		Products: products, Quantity: c.Quantity, Start: c.Start, End: c.End, Contact: c.Contact,
		Valid: entitle.CheckValid(c, a.cfg.Now()) == nil, CreatedAt: c.CreatedAt.UTC()}
}

func (a *API) contracts(w http.ResponseWriter, r *http.Request, _ store.APIToken) error {
	cs, err := a.cfg.Store.ListContracts(r.Context())
	if err != nil {
		return fmt.Errorf("listing contracts: %w", err)
	}
	out := make([]Contract, 0, len(cs))
	for _, c := range cs {
		out = append(out, a.contractJSON(c))
	}
	return writeJSON(w, http.StatusOK, out)
}

func (a *API) newContract(w http.ResponseWriter, r *http.Request, tok store.APIToken) error {
	var req NewContractRequest
	if err := decodeBody(w, r, &req); err != nil {
		return err
	}
	if req.Plan == "" {
		req.Plan = "server"
	}
	seen := map[string]bool{}
	for _, p := range req.Products {
		if seen[p] {
			return errs.E(errs.Invalid, "product %q is listed twice: a contract has one licence key per product", p)
		}
		seen[p] = true
	}
	c, issued, err := a.cfg.Ops.NewContract(r.Context(), store.Contract{Customer: req.Customer, EndUser: req.EndUser,
		Plan: req.Plan, Products: req.Products, Quantity: req.Quantity, Start: req.Start, End: req.End, Contact: req.Contact})
	if errs.Is(err, errs.NotFound) {
		// An unknown product is a fault of the request body, not a missing resource.
		err = errs.Wrap(errs.Invalid, err, err.Error())
	}
	if err != nil {
		return fmt.Errorf("creating a contract for %q: %w", req.Customer, err)
	}
	out := NewContract{SupportID: c.SupportID, LicenseKeys: make(map[string]string, len(issued.Keys)),
		Account: issued.Account, Password: issued.Password}
	for i, k := range issued.Keys {
		out.LicenseKeys[c.Products[i]] = k
	}
	a.logChange(r, tok, "contract.create", "support_id", c.SupportID, "customer", c.Customer,
		"products", c.Products, "plan", c.Plan, "quantity", c.Quantity, "start", c.Start, "end", c.End)
	w.Header().Set("Location", prefix+"/contracts/"+url.PathEscape(c.SupportID))
	return writeJSON(w, http.StatusCreated, out)
}

func (a *API) contract(w http.ResponseWriter, r *http.Request, _ store.APIToken) error {
	c, err := a.cfg.Store.Contract(r.Context(), r.PathValue("support_id"))
	if err != nil {
		return fmt.Errorf("looking up contract %q: %w", r.PathValue("support_id"), err)
	}
	hosts, err := a.cfg.Store.Hosts(r.Context(), c.SupportID, a.cfg.Now())
	if err != nil {
		return fmt.Errorf("listing hosts of %s: %w", c.SupportID, err)
	}
	used := map[string]int{}
	for _, h := range hosts {
		used[h.ProductID]++
	}
	out := ContractDetail{Contract: a.contractJSON(c), PerProduct: make([]ProductSeats, 0, len(c.Products)), Hosts: make([]Host, 0, len(hosts))}
	for _, p := range c.Products {
		out.PerProduct = append(out.PerProduct, ProductSeats{Product: p, Quantity: c.Quantity, SeatsUsed: used[p]})
		out.SeatsUsed = max(out.SeatsUsed, used[p])
	}
	for _, h := range hosts {
		out.Hosts = append(out.Hosts, Host{HostID: h.ID, Hostname: h.Hostname, Product: h.ProductID,
			RegisteredAt: h.RegisteredAt.UTC(), LastSeen: h.LastSeen.UTC(), LeaseExpires: LeaseExpires(h)})
	}
	return writeJSON(w, http.StatusOK, out)
}

func (a *API) renew(w http.ResponseWriter, r *http.Request, tok store.APIToken) error {
	var req RenewRequest
	if err := decodeBody(w, r, &req); err != nil {
		return err
	}
	id := r.PathValue("support_id")
	c, err := a.cfg.Ops.Renew(r.Context(), id, req.End)
	if err != nil {
		return fmt.Errorf("renewing contract %q: %w", id, err)
	}
	a.logChange(r, tok, "contract.renew", "support_id", c.SupportID, "end", c.End)
	return writeJSON(w, http.StatusOK, Renewal{SupportID: c.SupportID, Start: c.Start, End: c.End})
}

func (a *API) releaseSeat(w http.ResponseWriter, r *http.Request, tok store.APIToken) error {
	id, host := r.PathValue("support_id"), r.PathValue("host_id")
	if err := a.cfg.Ops.ReleaseSeat(r.Context(), id, host); err != nil {
		return fmt.Errorf("releasing the seat of host %q of contract %q: %w", host, id, err)
	}
	a.logChange(r, tok, "seat.release", "support_id", id, "host_id", host)
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (a *API) outbox(w http.ResponseWriter, r *http.Request, _ store.APIToken) error {
	limit := defaultOutboxLimit
	if s := r.URL.Query().Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > maxOutboxLimit {
			return errs.E(errs.Invalid, "limit %q is not a number from 1 to %d", s, maxOutboxLimit)
		}
		limit = n
	}
	mails, err := a.cfg.Store.Mails(r.Context(), limit)
	if err != nil {
		return fmt.Errorf("listing the outbox: %w", err)
	}
	out := make([]Mail, 0, len(mails))
	for _, m := range mails {
		var sent *time.Time
		if !m.SentAt.IsZero() {
			t := m.SentAt.UTC()
			sent = &t
		}
		out = append(out, Mail{ID: m.ID, To: m.To, Subject: m.Subject, Status: m.Status, Attempts: m.Attempts,
			LastError: m.LastError, CreatedAt: m.CreatedAt.UTC(), SentAt: sent})
	}
	return writeJSON(w, http.StatusOK, out)
}

// nonZero returns nil for 0 (none) and a pointer to id otherwise.
func nonZero(id int64) *int64 {
	if id == 0 {
		return nil
	}
	return &id
}

// LeaseExpires is a host's lease end for JSON: null for a server seat.
func LeaseExpires(h store.Host) *time.Time {
	if h.LeaseTTL == 0 {
		return nil
	}
	t := h.LeaseExpires.UTC()
	return &t
}
