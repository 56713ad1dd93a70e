package web

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/enmei-project/enmei/internal/account"
	"github.com/enmei-project/enmei/internal/entitle"
	"github.com/enmei-project/enmei/internal/errs"
	"github.com/enmei-project/enmei/internal/store"
	"github.com/enmei-project/enmei/internal/vendorops"
)

func (p *Portal) consoleRoutes(page func(string, http.HandlerFunc)) {
	page("GET /admin/login", p.adminLoginForm)
	page("POST /admin/login", p.adminLogin)
	page("GET /admin/password", p.passwordForm)
	page("POST /admin/password", p.passwordSet)
	page("POST /admin/logout", p.adminLogout)
	page("GET /admin/{$}", p.vendor(p.adminHome))
	page("GET /admin/contracts", p.vendor(p.adminContracts))
	page("GET /admin/contracts/new", p.vendor(p.adminNewContractForm))
	page("POST /admin/contracts", p.vendor(p.adminNewContract))
	page("GET /admin/contracts/{sid}", p.vendor(p.adminContract))
	page("POST /admin/contracts/{sid}/renew", p.vendor(p.adminRenew))
	page("GET /admin/contracts/{sid}/hosts/{id}/release", p.vendor(p.adminReleaseConfirm))
	page("POST /admin/contracts/{sid}/hosts/{id}/release", p.vendor(p.adminRelease))
	page("GET /admin/repos", p.vendor(p.adminRepos))
	page("GET /admin/repos/{repo}", p.vendor(p.adminRepo))
	page("GET /admin/repos/{repo}/publications/{pub}/rollback", p.vendor(p.adminRollbackConfirm))
	page("POST /admin/repos/{repo}/publications/{pub}/rollback", p.vendor(p.adminRollback))
	page("GET /admin/outbox", p.vendor(p.adminOutbox))
}

// vendor serves h to signed-in console users only; changes (POST) only to
// roles that may change things.
func (p *Portal) vendor(h func(http.ResponseWriter, *http.Request, *view)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		s, err := p.session(r, account.Vendor)
		if err != nil {
			http.Redirect(w, r, "/admin/login", http.StatusSeeOther)
			return
		}
		u, err := p.cfg.Store.User(r.Context(), s.Subject)
		if err != nil {
			http.Redirect(w, r, "/admin/login", http.StatusSeeOther)
			return
		}
		v := &view{User: &u, CanEdit: account.CanChange(u.Role), L: p.locale(r)}
		if r.Method != http.MethodGet && r.Method != http.MethodHead && !v.CanEdit {
			p.fail(w, r, v, errs.E(errs.Forbidden, "role %s may not change anything", u.Role))
			return
		}
		h(w, r, v)
	}
}

func (p *Portal) adminLoginForm(w http.ResponseWriter, r *http.Request) {
	p.render(w, r, http.StatusOK, "admin_login", &view{Title: "admin.login_title"})
}

func (p *Portal) adminLogin(w http.ResponseWriter, r *http.Request) {
	v := &view{Title: "admin.login_title", L: p.locale(r)}
	email, err := account.NormalizeEmail(r.PostFormValue("email"))
	v.Data = r.PostFormValue("email")
	if err != nil {
		v.Error = v.L.T("admin.login_failed")
		p.render(w, r, http.StatusUnauthorized, "admin_login", v)
		return
	}
	// Guessing is slowed per client address and per account; argon2id makes
	// each guess expensive as well.
	if !p.allow("admin-ip:"+p.cfg.ClientAddr(r), 3*time.Second, 10) || !p.allow("admin-user:"+email, 6*time.Second, 5) {
		v.Error = v.L.T("login.slow_down")
		w.Header().Set("Retry-After", "60")
		p.render(w, r, http.StatusTooManyRequests, "admin_login", v)
		return
	}
	u, err := p.cfg.Store.User(r.Context(), email)
	if err != nil && !errs.Is(err, errs.NotFound) {
		p.fail(w, r, v, err)
		return
	}
	// VerifyPassword takes as long for an unknown user (empty hash).
	if !account.VerifyPassword(u.PasswordHash, r.PostFormValue("password")) {
		p.cfg.Log.Warn("console login failed", "email", email, "client", p.cfg.ClientAddr(r))
		v.Error = v.L.T("admin.login_failed")
		p.render(w, r, http.StatusUnauthorized, "admin_login", v)
		return
	}
	p.signInAs(w, r, v, account.Vendor, u.Email, "/admin/")
}

func (p *Portal) passwordForm(w http.ResponseWriter, r *http.Request) {
	p.render(w, r, http.StatusOK, "admin_password", &view{Title: "admin.password_title", Data: r.URL.Query().Get("token")})
}

func (p *Portal) passwordSet(w http.ResponseWriter, r *http.Request) {
	token := r.PostFormValue("token")
	v := &view{Title: "admin.password_title", L: p.locale(r), Data: token}
	pw := r.PostFormValue("password")
	if pw != r.PostFormValue("password2") {
		v.Error = v.L.T("admin.password_mismatch")
		p.render(w, r, http.StatusBadRequest, "admin_password", v)
		return
	}
	if err := account.CheckPassword(pw); err != nil {
		v.Error = v.L.T("admin.password_short", account.MinPasswordLen)
		p.render(w, r, http.StatusBadRequest, "admin_password", v)
		return
	}
	l, ok := p.useLink(w, r, v, token, account.LinkPassword)
	if !ok {
		return
	}
	if err := p.cfg.Store.SetPassword(r.Context(), l.Subject, account.HashPassword(pw)); err != nil {
		p.fail(w, r, v, err)
		return
	}
	p.signInAs(w, r, v, account.Vendor, l.Subject, "/admin/")
}

func (p *Portal) adminLogout(w http.ResponseWriter, r *http.Request) {
	p.endSession(w, r, account.Vendor)
	http.Redirect(w, r, "/admin/login", http.StatusSeeOther)
}

func (p *Portal) adminHome(w http.ResponseWriter, r *http.Request, v *view) {
	http.Redirect(w, r, "/admin/contracts", http.StatusSeeOther)
}

// ContractRow is one line of the console's contract list.
type ContractRow struct {
	Contract store.Contract
	Valid    bool
}

func (p *Portal) adminContracts(w http.ResponseWriter, r *http.Request, v *view) {
	v.Title = "admin.contracts_title"
	cs, err := p.cfg.Store.ListContracts(r.Context())
	if err != nil {
		p.fail(w, r, v, err)
		return
	}
	rows := make([]ContractRow, len(cs))
	now := p.cfg.Now()
	for i, c := range cs {
		rows[i] = ContractRow{Contract: c, Valid: entitle.CheckValid(c, now) == nil}
	}
	v.Data = rows
	p.render(w, r, http.StatusOK, "admin_contracts", v)
}

// NewContractForm is the new-contract form's values and choices.
type NewContractForm struct {
	Products                                     []store.Product
	Chosen                                       map[string]bool
	Customer, EndUser, Plan, Start, End, Contact string
	Quantity                                     string
	SupportID                                    string
	Keys                                         []ProductKey
	Account, Password                            string // developer plan, shown once
}

// ProductKey is a licence key shown once after a contract is made.
type ProductKey struct{ Product, Key string }

func (p *Portal) newContractForm(ctx context.Context, f *NewContractForm) error {
	ps, err := p.cfg.Store.Products(ctx)
	f.Products = ps
	if f.Chosen == nil {
		f.Chosen = map[string]bool{}
	}
	if f.Plan == "" {
		f.Plan = "server"
	}
	if f.Start == "" {
		today := p.cfg.Now().In(entitle.Tokyo)
		f.Start = today.Format(entitle.DateLayout)
		f.End = today.AddDate(1, 0, -1).Format(entitle.DateLayout)
	}
	return err
}

func (p *Portal) adminNewContractForm(w http.ResponseWriter, r *http.Request, v *view) {
	v.Title = "admin.new_contract"
	f := &NewContractForm{}
	if err := p.newContractForm(r.Context(), f); err != nil {
		p.fail(w, r, v, err)
		return
	}
	v.Data = f
	p.render(w, r, http.StatusOK, "admin_contract_new", v)
}

func (p *Portal) adminNewContract(w http.ResponseWriter, r *http.Request, v *view) {
	v.Title = "admin.new_contract"
	r.ParseForm()
	f := &NewContractForm{Customer: r.PostFormValue("customer"), EndUser: r.PostFormValue("end_user"), Plan: r.PostFormValue("plan"),
		Start: r.PostFormValue("start"), End: r.PostFormValue("end"), Contact: strings.TrimSpace(r.PostFormValue("contact")),
		Quantity: r.PostFormValue("quantity"), Chosen: map[string]bool{}}
	for _, id := range r.PostForm["product"] {
		f.Chosen[id] = true
	}
	c := store.Contract{Customer: strings.TrimSpace(f.Customer), EndUser: strings.TrimSpace(f.EndUser), Plan: f.Plan,
		Products: r.PostForm["product"], Start: f.Start, End: f.End, Contact: f.Contact}
	q, err := strconv.Atoi(strings.TrimSpace(f.Quantity))
	if err != nil {
		err = errs.E(errs.Invalid, "%s", v.L.T("admin.quantity_invalid"))
	}
	c.Quantity = q
	var issued vendorops.Issued
	if err == nil {
		c, issued, err = p.cfg.Ops.NewContract(r.Context(), c)
	}
	if err != nil {
		if ferr := p.newContractForm(r.Context(), f); ferr != nil {
			p.fail(w, r, v, ferr)
			return
		}
		if errs.KindOf(err) != errs.Invalid && errs.KindOf(err) != errs.NotFound {
			p.fail(w, r, v, err)
			return
		}
		v.Error = err.Error()
		v.Data = f
		p.render(w, r, http.StatusBadRequest, "admin_contract_new", v)
		return
	}
	p.cfg.Log.Info("contract created in the console", "support_id", c.SupportID, "by", v.User.Email)
	f.SupportID = c.SupportID
	for i, k := range issued.Keys {
		f.Keys = append(f.Keys, ProductKey{Product: c.Products[i], Key: k})
	}
	f.Account, f.Password = issued.Account, issued.Password
	v.Title = "admin.contract_created"
	v.Data = f
	p.render(w, r, http.StatusCreated, "admin_contract_created", v)
}

func (p *Portal) adminContract(w http.ResponseWriter, r *http.Request, v *view) {
	c, err := p.cfg.Store.Contract(r.Context(), r.PathValue("sid"))
	if err != nil {
		p.fail(w, r, v, err)
		return
	}
	v.Title = "contract.title"
	cv, err := p.contractView(r.Context(), v.L, c)
	if err != nil {
		p.fail(w, r, v, err)
		return
	}
	if id := r.URL.Query().Get("released"); entitle.LooksLikeHostID(id) {
		v.Flash = v.L.T("hosts.released", id)
	}
	if r.URL.Query().Get("renewed") != "" {
		v.Flash = v.L.T("admin.renewed", c.End)
	}
	cv.CanRelease, cv.ReleaseBase = v.CanEdit, "/admin/contracts/"+c.SupportID
	v.Data = cv
	p.render(w, r, http.StatusOK, "admin_contract", v)
}

func (p *Portal) adminRenew(w http.ResponseWriter, r *http.Request, v *view) {
	sid := r.PathValue("sid")
	c, err := p.cfg.Ops.Renew(r.Context(), sid, strings.TrimSpace(r.PostFormValue("end")))
	if err != nil {
		p.fail(w, r, v, err)
		return
	}
	p.cfg.Log.Info("contract renewed in the console", "support_id", c.SupportID, "end", c.End, "by", v.User.Email)
	http.Redirect(w, r, "/admin/contracts/"+c.SupportID+"?renewed=1", http.StatusSeeOther)
}

func (p *Portal) contractHost(r *http.Request) (store.Host, error) {
	c, err := p.cfg.Store.Contract(r.Context(), r.PathValue("sid"))
	if err != nil {
		return store.Host{}, err
	}
	return p.ownHost(r, c)
}

func (p *Portal) adminReleaseConfirm(w http.ResponseWriter, r *http.Request, v *view) {
	v.Title = "hosts.release_title"
	h, err := p.contractHost(r)
	if err != nil {
		p.fail(w, r, v, err)
		return
	}
	base := "/admin/contracts/" + h.SupportID
	v.Data = releaseData{Host: h, Action: base + "/hosts/" + h.ID + "/release", Cancel: base}
	p.render(w, r, http.StatusOK, "release", v)
}

func (p *Portal) adminRelease(w http.ResponseWriter, r *http.Request, v *view) {
	h, err := p.contractHost(r)
	if err == nil {
		err = p.cfg.Ops.ReleaseSeat(r.Context(), h.SupportID, h.ID)
	}
	if err != nil {
		p.fail(w, r, v, err)
		return
	}
	p.cfg.Log.Info("seat released in the console", "support_id", h.SupportID, "host_id", h.ID, "by", v.User.Email)
	http.Redirect(w, r, "/admin/contracts/"+h.SupportID+"?released="+h.ID, http.StatusSeeOther)
}

// ProductRepos is a product with its repositories.
type ProductRepos struct {
	Product store.Product
	Repos   []store.Repo
}

func (p *Portal) adminRepos(w http.ResponseWriter, r *http.Request, v *view) {
	v.Title = "admin.repos_title"
	ps, err := p.cfg.Store.Products(r.Context())
	if err != nil {
		p.fail(w, r, v, err)
		return
	}
	var out []ProductRepos
	for _, prod := range ps {
		rs, err := p.cfg.Store.Repos(r.Context(), prod.ID)
		if err != nil {
			p.fail(w, r, v, err)
			return
		}
		out = append(out, ProductRepos{Product: prod, Repos: rs})
	}
	v.Data = out
	p.render(w, r, http.StatusOK, "admin_repos", v)
}

// RepoView is a repository with its publications.
type RepoView struct {
	Repo         store.Repo
	Publications []store.Publication
	Target       *store.Publication // the rollback being confirmed
	Done         int64              // the publication a rollback just made
}

func (p *Portal) repoView(r *http.Request) (RepoView, error) {
	repo, err := p.cfg.Store.Repo(r.Context(), r.PathValue("repo"))
	if err != nil {
		return RepoView{}, err
	}
	pubs, err := p.cfg.Store.Publications(r.Context(), repo.ID)
	return RepoView{Repo: repo, Publications: pubs}, err
}

func (p *Portal) adminRepo(w http.ResponseWriter, r *http.Request, v *view) {
	rv, err := p.repoView(r)
	if err != nil {
		p.fail(w, r, v, err)
		return
	}
	v.Title = "admin.repo_title"
	if id, err := strconv.ParseInt(r.URL.Query().Get("rolled_back"), 10, 64); err == nil {
		v.Flash = v.L.T("admin.rolled_back", id)
	}
	v.Data = rv
	p.render(w, r, http.StatusOK, "admin_repo", v)
}

// target finds the publication of the URL among the repository's.
func target(r *http.Request, rv *RepoView) error {
	id, err := strconv.ParseInt(r.PathValue("pub"), 10, 64)
	if err == nil {
		for i := range rv.Publications {
			if rv.Publications[i].ID == id {
				rv.Target = &rv.Publications[i]
				return nil
			}
		}
	}
	return errs.E(errs.NotFound, "repository %s has no publication %s", rv.Repo.ID, r.PathValue("pub"))
}

func (p *Portal) adminRollbackConfirm(w http.ResponseWriter, r *http.Request, v *view) {
	v.Title = "admin.rollback_title"
	rv, err := p.repoView(r)
	if err == nil {
		err = target(r, &rv)
	}
	if err != nil {
		p.fail(w, r, v, err)
		return
	}
	v.Data = rv
	p.render(w, r, http.StatusOK, "admin_rollback", v)
}

func (p *Portal) adminRollback(w http.ResponseWriter, r *http.Request, v *view) {
	v.Title = "admin.rollback_title"
	rv, err := p.repoView(r)
	if err == nil {
		err = target(r, &rv)
	}
	var pub store.Publication
	if err == nil {
		pub, err = p.cfg.Ops.RollbackTo(r.Context(), rv.Repo.ID, rv.Target.ID)
	}
	if err != nil {
		p.fail(w, r, v, err)
		return
	}
	p.cfg.Log.Info("rollback in the console", "repo", rv.Repo.ID, "of", rv.Target.ID, "publication", pub.ID, "by", v.User.Email)
	http.Redirect(w, r, "/admin/repos/"+rv.Repo.ID+"?rolled_back="+strconv.FormatInt(pub.ID, 10), http.StatusSeeOther)
}

func (p *Portal) adminOutbox(w http.ResponseWriter, r *http.Request, v *view) {
	v.Title = "admin.outbox_title"
	ms, err := p.cfg.Store.Mails(r.Context(), 200)
	if err != nil {
		p.fail(w, r, v, err)
		return
	}
	v.Data = ms
	p.render(w, r, http.StatusOK, "admin_outbox", v)
}
