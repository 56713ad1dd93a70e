// Package adminapi is the vendor's admin HTTP API under /api/v1/admin/: the
// reads and day-to-day changes of the enmeid command line and the web console
// (products, repositories, publications and rollbacks, contracts, seats, the
// mail outbox), for scripts and CI that cannot shell into the server. Callers
// authenticate with an API token (Bearer, or HTTP Basic with the token's name
// for tools such as mvn deploy that only speak Basic), whose role decides
// whether it may change anything. Every change goes through vendorops, so a
// rule holds here exactly as it does on the command line. The OpenAPI 3.1
// document of the API is embedded and served at /api/openapi.json; a test keeps
// it and the routes in step.
package adminapi

import (
	"context"
	"crypto/subtle"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/enmei-project/enmei/internal/account"
	"github.com/enmei-project/enmei/internal/api"
	"github.com/enmei-project/enmei/internal/errs"
	"github.com/enmei-project/enmei/internal/store"
	"github.com/enmei-project/enmei/internal/vendorops"
)

// Store is what the API reads; changes go through vendorops.Ops, which has
// a store of its own.
type Store interface {
	Products(ctx context.Context) ([]store.Product, error)
	Repos(ctx context.Context, productID string) ([]store.Repo, error)
	Repo(ctx context.Context, id string) (store.Repo, error)
	Publications(ctx context.Context, repoID string) ([]store.Publication, error)
	Contract(ctx context.Context, supportID string) (store.Contract, error)
	ListContracts(ctx context.Context) ([]store.Contract, error)
	Hosts(ctx context.Context, supportID string, now time.Time) ([]store.Host, error)
	Mails(ctx context.Context, limit int) ([]store.Mail, error)
	TokenByHash(ctx context.Context, hash []byte) (store.APIToken, error)
}

// Config holds the API's dependencies.
type Config struct {
	Store Store
	// Ops performs every change. Its Rollback is nil in a process without
	// the signing key: rollbacks then answer 400 saying so.
	Ops *vendorops.Ops
	Now func() time.Time
	Log *slog.Logger
}

// API serves the admin HTTP API.
type API struct {
	cfg  Config
	cop  *http.CrossOriginProtection
	spec []byte
}

// Route is one operation of the API.
type Route struct {
	Method string
	Path   string // a net/http pattern path, e.g. /api/v1/admin/contracts/{support_id}
	Role   string // the least role that may call it (account.Role*)
}

// OpenAPIPath is where Register serves the OpenAPI document.
const OpenAPIPath = "/api/openapi.json"

// maxBody bounds request bodies; every request of this API is a few hundred bytes.
const maxBody = 64 << 10

//go:embed openapi.json
var openapiJSON []byte

// OpenAPI returns the API's OpenAPI 3.1 document.
func OpenAPI() []byte { return append([]byte(nil), openapiJSON...) }

// handler serves one operation once the caller is authenticated and allowed.
type handler func(a *API, w http.ResponseWriter, r *http.Request, tok store.APIToken) error

type operation struct {
	Route
	h handler
}

const prefix = "/api/v1/admin"

var operations = []operation{
	{Route{http.MethodGet, prefix + "/products", account.RoleViewer}, (*API).products},
	{Route{http.MethodGet, prefix + "/repos", account.RoleViewer}, (*API).repos},
	{Route{http.MethodGet, prefix + "/repos/{repo}/publications", account.RoleViewer}, (*API).publications},
	{Route{http.MethodPost, prefix + "/repos/{repo}/publications/{id}/rollback", account.RoleOperator}, (*API).rollback},
	{Route{http.MethodGet, prefix + "/contracts", account.RoleViewer}, (*API).contracts},
	{Route{http.MethodPost, prefix + "/contracts", account.RoleOperator}, (*API).newContract},
	{Route{http.MethodGet, prefix + "/contracts/{support_id}", account.RoleViewer}, (*API).contract},
	{Route{http.MethodPost, prefix + "/contracts/{support_id}/renew", account.RoleOperator}, (*API).renew},
	{Route{http.MethodDelete, prefix + "/contracts/{support_id}/hosts/{host_id}", account.RoleOperator}, (*API).releaseSeat},
	{Route{http.MethodGet, prefix + "/outbox", account.RoleViewer}, (*API).outbox},
}

// Routes lists every operation of the API (not the OpenAPI document itself).
func Routes() []Route {
	out := make([]Route, len(operations))
	for i, o := range operations {
		out[i] = o.Route
	}
	return out
}

// New returns the API. cfg.Store and cfg.Ops are required.
func New(cfg Config) *API {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	return &API{cfg: cfg, cop: http.NewCrossOriginProtection(), spec: OpenAPI()}
}

// Register adds every route with handle (the server's mux Handle), and the
// OpenAPI document at OpenAPIPath without authentication.
func (a *API) Register(handle func(pattern string, h http.Handler)) {
	for _, o := range operations {
		handle(o.Method+" "+o.Path, a.serve(o))
	}
	handle(http.MethodGet+" "+OpenAPIPath, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("X-Content-Type-Options", "nosniff")
		w.Header().Set("Cache-Control", "no-cache")
		w.Write(a.spec)
	}))
}

// serve authenticates, authorises and runs one operation.
func (a *API) serve(o operation) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// Responses carry licence keys and customer data: never cache them.
		w.Header().Set("Cache-Control", "no-store")
		// A browser holding Basic credentials for this realm must not be
		// made to change anything by another site's form.
		if err := a.cop.Check(r); err != nil {
			a.fail(w, r, errs.Wrap(errs.Forbidden, err, "cross-origin requests may not change anything: call the admin API from a script, not from another site's page"))
			return
		}
		tok, err := a.authenticate(r)
		if err != nil {
			a.fail(w, r, err)
			return
		}
		if !allowed(tok.Role, o.Role) {
			a.fail(w, r, errs.E(errs.Forbidden, "API token %q has the role %s; %s %s needs %s or stronger", tok.Name, tok.Role, o.Method, o.Path, o.Role))
			return
		}
		if err := o.h(a, w, r, tok); err != nil {
			a.fail(w, r, err)
		}
	})
}

// allowed reports whether a token's role may call an operation needing need.
func allowed(role, need string) bool {
	switch need {
	case account.RoleViewer:
		return account.CheckRole(role) == nil
	case account.RoleOperator:
		return account.CanChange(role)
	case account.RoleAdmin:
		return role == account.RoleAdmin
	}
	return false
}

// unauthorized is the one answer to every missing or wrong credential, so a
// caller learns nothing about which part was wrong.
var unauthorized = errs.E(errs.Unauthorized,
	"this needs a valid admin API token: send Authorization: Bearer TOKEN, or HTTP Basic with the token's name and the token (enmeid token create makes one)")

// authenticate returns the API token the request carries. Tokens of the
// wrong shape are refused before any lookup; a Basic user name must be the
// token's name.
func (a *API) authenticate(r *http.Request) (store.APIToken, error) {
	var token, user string
	basic := false
	if scheme, rest, ok := strings.Cut(r.Header.Get("Authorization"), " "); ok && strings.EqualFold(scheme, "Bearer") {
		token = strings.TrimSpace(rest)
	} else if u, p, ok := r.BasicAuth(); ok {
		token, user, basic = p, u, true
	} else {
		return store.APIToken{}, unauthorized
	}
	if !account.LooksLikeToken(token) {
		return store.APIToken{}, unauthorized
	}
	tok, err := a.cfg.Store.TokenByHash(r.Context(), account.HashToken(token))
	if errs.Is(err, errs.NotFound) {
		return store.APIToken{}, unauthorized
	}
	if err != nil {
		return store.APIToken{}, fmt.Errorf("looking up an API token: %w", err)
	}
	if basic && subtle.ConstantTimeCompare([]byte(user), []byte(tok.Name)) != 1 {
		return store.APIToken{}, unauthorized
	}
	return tok, nil
}

// fail writes err as an api.Error with the status its kind maps to, as the
// server's fail does.
func (a *API) fail(w http.ResponseWriter, r *http.Request, err error) {
	status, kind := api.StatusOf(err)
	if status == http.StatusUnauthorized {
		// Bearer is the API's scheme; Basic is offered too, so tools that
		// only answer a Basic challenge (Maven) send their credentials.
		w.Header().Add("WWW-Authenticate", `Bearer realm="enmei"`)
		w.Header().Add("WWW-Authenticate", `Basic realm="enmei", charset="UTF-8"`)
	}
	// The domain error's own message is written for the caller; the
	// context wrapped around it is for the log.
	msg := err.Error()
	var de *errs.Error
	if errors.As(err, &de) {
		msg = de.Error()
	}
	if status == http.StatusInternalServerError {
		a.cfg.Log.Error("admin API request failed", "method", r.Method, "path", r.URL.Path, "err", err)
		msg = api.InternalMessage
	}
	api.WriteError(w, r, status, kind, msg)
}

// writeJSON writes v with status.
func writeJSON(w http.ResponseWriter, status int, v any) error {
	body, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("encoding the response: %w", err)
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	w.Write(append(body, '\n'))
	return nil
}

// decodeBody reads a request body of at most maxBody bytes holding exactly
// one JSON object with no fields v does not know.
func decodeBody(w http.ResponseWriter, r *http.Request, v any) error {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxBody))
	dec.DisallowUnknownFields()
	err := dec.Decode(v)
	if err == nil {
		if _, tail := dec.Token(); tail != io.EOF {
			if tail == nil {
				tail = errors.New("more than one JSON value")
			}
			err = tail
		}
	}
	var tooBig *http.MaxBytesError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &tooBig):
		return errs.Wrap(errs.Invalid, err, fmt.Sprintf("the request body is larger than %d KiB", maxBody>>10))
	default:
		return errs.Wrap(errs.Invalid, err, "the request body is not the JSON object this operation takes: "+err.Error())
	}
}

// logChange records a change made through the API: who (the token's name)
// did what.
func (a *API) logChange(r *http.Request, tok store.APIToken, op string, attrs ...any) {
	a.cfg.Log.Info("admin API change", append([]any{"token", tok.Name, "role", tok.Role, "operation", op, "method", r.Method, "path", r.URL.Path}, attrs...)...)
}
