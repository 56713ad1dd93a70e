package adminapi

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/enmei-project/enmei/internal/account"
	"github.com/enmei-project/enmei/internal/entitle"
	"github.com/enmei-project/enmei/internal/errs"
	"github.com/enmei-project/enmei/internal/store"
	"github.com/enmei-project/enmei/internal/store/sqlite"
	"github.com/enmei-project/enmei/internal/vendorops"
)

const (
	repoID = "almalinux-9-baseos-x86_64"
	docURL = "https://enmei.invalid/openapi.json"
)

type rollbackCall struct {
	repo string
	id   int64
}

// env is an API over a real SQLite store, served over HTTP.
type env struct {
	t      *testing.T
	db     *sqlite.DB
	mux    *http.ServeMux
	srv    *httptest.Server
	now    time.Time
	tokens map[string]string // role → token
	names  map[string]string // role → token name
	pubs   []int64           // the repository's publications, oldest first
	logs   *syncBuffer

	mu        sync.Mutex
	rollbacks []rollbackCall
	released  []string

	schemas *schemaCache
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func newEnv(t *testing.T) *env {
	t.Helper()
	ctx := context.Background()
	db, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "enmei.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	e := &env{t: t, db: db, now: time.Date(2026, 5, 1, 3, 0, 0, 0, time.UTC),
		tokens: map[string]string{}, names: map[string]string{}, logs: &syncBuffer{}, schemas: newSchemaCache(t)}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(db.AddProduct(ctx, store.Product{ID: "almalinux-9", Name: "AlmaLinux 9", Format: "rpm", EOL: "2032-05-31", OSID: "almalinux", OSVersion: "9"}))
	must(db.AddProduct(ctx, store.Product{ID: "tools", Name: "Tools", Format: "deb"}))
	must(db.AddRepo(ctx, store.Repo{ID: repoID, ProductID: "almalinux-9", Format: "rpm", Arch: "x86_64"}))
	must(db.AddRepo(ctx, store.Repo{ID: "tools-bookworm", ProductID: "tools", Format: "deb", Suite: "bookworm", Component: "main"}))
	var base int64
	for i := range 2 {
		id, err := db.CommitPublication(ctx, store.Publication{RepoID: repoID, CreatedAt: e.now.Add(time.Duration(i) * time.Hour),
			Packages: 3 + i, Manifest: strings.Repeat("a", 64), Base: base})
		must(err)
		e.pubs, base = append(e.pubs, id), id
	}
	for _, role := range account.Roles {
		tok, hash := account.NewToken()
		e.tokens[role], e.names[role] = tok, "ci-"+role
		must(db.AddToken(ctx, store.APIToken{Name: "ci-" + role, Role: role, Hash: hash, CreatedAt: e.now}))
	}
	must(db.EnqueueMail(ctx,
		store.Mail{To: "alice@example.jp", Subject: "Sign in to enmei", Message: []byte("Subject: x\r\n\r\nhttps://portal.example.jp/login?t=SECRETLINK\r\n"), CreatedAt: e.now, NextAt: e.now},
		store.Mail{To: "bob@example.jp", Subject: "Your contract", Message: []byte("hello"), CreatedAt: e.now, NextAt: e.now}))
	mails, err := db.Mails(ctx, 10)
	must(err)
	for _, m := range mails {
		if m.To == "alice@example.jp" {
			must(db.MailSent(ctx, m.ID, e.now.Add(time.Minute)))
		}
	}

	clock := func() time.Time { return e.now }
	ops := &vendorops.Ops{Store: db, Now: clock,
		Rollback: func(ctx context.Context, repo string, id int64) (store.Publication, error) {
			e.mu.Lock()
			e.rollbacks = append(e.rollbacks, rollbackCall{repo, id})
			e.mu.Unlock()
			if repo != repoID || id != e.pubs[0] {
				return store.Publication{}, errs.E(errs.NotFound, "repository %s has no publication %d", repo, id)
			}
			r, err := db.Repo(ctx, repo)
			if err != nil {
				return store.Publication{}, err
			}
			p := store.Publication{RepoID: repo, CreatedAt: clock(), Packages: 3, Manifest: strings.Repeat("a", 64), RollbackOf: id, Base: r.Current}
			p.ID, err = db.CommitPublication(ctx, p)
			return p, err
		},
		Released: func(hostID string) {
			e.mu.Lock()
			e.released = append(e.released, hostID)
			e.mu.Unlock()
		}}
	a := New(Config{Store: db, Ops: ops, Now: clock, Log: slog.New(slog.NewTextHandler(e.logs, nil))})
	e.mux = http.NewServeMux()
	a.Register(e.mux.Handle)
	e.srv = httptest.NewServer(e.mux)
	t.Cleanup(e.srv.Close)
	return e
}

// auth sets a request's credentials.
type auth func(r *http.Request)

func bearer(tok string) auth {
	return func(r *http.Request) { r.Header.Set("Authorization", "Bearer "+tok) }
}

func basic(user, pass string) auth { return func(r *http.Request) { r.SetBasicAuth(user, pass) } }

func (e *env) as(role string) auth { return bearer(e.tokens[role]) }

type response struct {
	status int
	header http.Header
	body   []byte
}

// decode unmarshals the response body.
func (r response) decode(t *testing.T, v any) {
	t.Helper()
	if err := json.Unmarshal(r.body, v); err != nil {
		t.Fatalf("decoding %s: %v", r.body, err)
	}
}

// errKind returns the kind of an api.Error body.
func (r response) errKind(t *testing.T) string {
	t.Helper()
	var e struct{ Error, Kind string }
	r.decode(t, &e)
	if e.Error == "" {
		t.Errorf("error body %s has no message", r.body)
	}
	return e.Kind
}

// do sends a request and checks the answer against openapi.json: its status
// must be documented for the operation, and its body must match the
// documented schema.
func (e *env) do(method, path string, a auth, body any) response {
	e.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	case []byte:
		rd = bytes.NewReader(b)
	default:
		data, err := json.Marshal(b)
		if err != nil {
			e.t.Fatal(err)
		}
		rd = bytes.NewReader(data)
	}
	req, err := http.NewRequest(method, e.srv.URL+path, rd)
	if err != nil {
		e.t.Fatal(err)
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if a != nil {
		a(req)
	}
	res, err := e.srv.Client().Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer res.Body.Close()
	data, err := io.ReadAll(res.Body)
	if err != nil {
		e.t.Fatal(err)
	}
	r := response{status: res.StatusCode, header: res.Header, body: data}
	if _, pattern := e.mux.Handler(req); pattern != "" && !strings.HasSuffix(pattern, OpenAPIPath) {
		if err := e.schemas.check(pattern, r); err != nil {
			e.t.Error(err)
		}
	}
	return r
}

func (e *env) expect(r response, status int) {
	e.t.Helper()
	if r.status != status {
		e.t.Fatalf("status %d, want %d; body %s", r.status, status, r.body)
	}
}

// schemaCache compiles the document's response schemas. Component schemas
// are made closed (unevaluatedProperties: false) here, so a field the code
// sends but the document does not describe fails the test; formats (date,
// date-time, email) are asserted.
type schemaCache struct {
	doc      map[string]any
	compiler *jsonschema.Compiler
	compiled map[string]*jsonschema.Schema
}

func newSchemaCache(t *testing.T) *schemaCache {
	doc := parseJSON(t, openapiJSON).(map[string]any)
	for _, s := range dig(doc, "components", "schemas").(map[string]any) {
		s := s.(map[string]any)
		if _, ok := s["properties"]; ok {
			if _, ok := s["additionalProperties"]; !ok {
				s["unevaluatedProperties"] = false
			}
		}
	}
	c := jsonschema.NewCompiler()
	c.AssertFormat()
	if err := c.AddResource(docURL, doc); err != nil {
		t.Fatal(err)
	}
	return &schemaCache{doc: doc, compiler: c, compiled: map[string]*jsonschema.Schema{}}
}

func escapePointer(s string) string {
	return strings.ReplaceAll(strings.ReplaceAll(s, "~", "~0"), "/", "~1")
}

// check validates a response to the operation of a mux pattern.
func (s *schemaCache) check(pattern string, r response) error {
	method, path, _ := strings.Cut(pattern, " ")
	opPtr := "#/paths/" + escapePointer(docPath(path)) + "/" + strings.ToLower(method)
	resPtr := opPtr + "/responses/" + strconv.Itoa(r.status)
	res, ok := resolvePointer(s.doc, resPtr)
	if !ok {
		return fmt.Errorf("%s answered %d, which openapi.json does not document (body %s)", pattern, r.status, r.body)
	}
	if ref, ok := res.(map[string]any)["$ref"].(string); ok {
		resPtr = ref
		res, _ = resolvePointer(s.doc, ref)
	}
	if _, ok := res.(map[string]any)["content"]; !ok {
		if len(r.body) != 0 {
			return fmt.Errorf("%s %d: documented without content, answered %s", pattern, r.status, r.body)
		}
		return nil
	}
	if ct := r.header.Get("Content-Type"); ct != "application/json" {
		return fmt.Errorf("%s %d: Content-Type %q", pattern, r.status, ct)
	}
	ptr := resPtr + "/content/application~1json/schema"
	sch, ok := s.compiled[ptr]
	if !ok {
		var err error
		if sch, err = s.compiler.Compile(docURL + ptr); err != nil {
			return fmt.Errorf("compiling %s: %w", ptr, err)
		}
		s.compiled[ptr] = sch
	}
	v, err := jsonschema.UnmarshalJSON(bytes.NewReader(r.body))
	if err != nil {
		return fmt.Errorf("%s %d: body %q is not JSON: %w", pattern, r.status, r.body, err)
	}
	if err := sch.Validate(v); err != nil {
		return fmt.Errorf("%s %d: body does not match openapi.json:\n%s\n%w", pattern, r.status, r.body, err)
	}
	return nil
}

// TestSchemaCheckBites: the response check fails on a field the document
// does not describe, a missing field and a malformed date.
func TestSchemaCheckBites(t *testing.T) {
	s := newSchemaCache(t)
	pattern := "POST /api/v1/admin/contracts/{support_id}/renew"
	ok := `{"support_id":"ENM-2026-AAAAAA","start":"2026-01-01","end":"2027-12-31"}`
	for name, body := range map[string]string{
		"extra field":   `{"support_id":"ENM-2026-AAAAAA","start":"2026-01-01","end":"2027-12-31","key":"x"}`,
		"missing field": `{"support_id":"ENM-2026-AAAAAA","start":"2026-01-01"}`,
		"bad date":      `{"support_id":"ENM-2026-AAAAAA","start":"2026-01-01","end":"31/12/2027"}`,
	} {
		if err := s.check(pattern, response{status: 200, header: http.Header{"Content-Type": {"application/json"}}, body: []byte(body)}); err == nil {
			t.Errorf("%s passed the response check", name)
		}
	}
	if err := s.check(pattern, response{status: 200, header: http.Header{"Content-Type": {"application/json"}}, body: []byte(ok)}); err != nil {
		t.Error(err)
	}
	if err := s.check(pattern, response{status: 201, header: http.Header{"Content-Type": {"application/json"}}, body: []byte(ok)}); err == nil {
		t.Error("an undocumented status passed the response check")
	}
}

func TestOpenAPIServed(t *testing.T) {
	e := newEnv(t)
	r := e.do("GET", OpenAPIPath, nil, nil)
	e.expect(r, http.StatusOK)
	if ct := r.header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type %q", ct)
	}
	if !bytes.Equal(r.body, openapiJSON) {
		t.Error("the served document differs from openapi.json")
	}
}

func TestAuthentication(t *testing.T) {
	e := newEnv(t)
	stranger, _ := account.NewToken()
	for name, a := range map[string]auth{
		"no credentials":         nil,
		"junk bearer":            bearer("hello"),
		"empty bearer":           bearer(""),
		"unknown token":          bearer(stranger),
		"token as basic user":    basic(e.tokens[account.RoleAdmin], ""),
		"basic with wrong name":  basic(e.names[account.RoleViewer], e.tokens[account.RoleAdmin]),
		"basic with wrong token": basic(e.names[account.RoleAdmin], stranger),
		"basic with junk":        basic(e.names[account.RoleAdmin], "x"),
		"other scheme":           func(r *http.Request) { r.Header.Set("Authorization", "Token "+e.tokens[account.RoleAdmin]) },
	} {
		t.Run(name, func(t *testing.T) {
			e.t = t
			r := e.do("GET", "/api/v1/admin/contracts", a, nil)
			e.expect(r, http.StatusUnauthorized)
			if got := r.header.Values("WWW-Authenticate"); len(got) == 0 || got[0] != `Bearer realm="enmei"` {
				t.Errorf("WWW-Authenticate %q", got)
			}
			if k := r.errKind(t); k != "unauthorized" {
				t.Errorf("kind %q", k)
			}
		})
	}
	for name, a := range map[string]auth{
		"bearer":            e.as(account.RoleViewer),
		"lower-case bearer": func(r *http.Request) { r.Header.Set("Authorization", "bearer "+e.tokens[account.RoleViewer]) },
		"basic":             basic(e.names[account.RoleViewer], e.tokens[account.RoleViewer]),
	} {
		t.Run(name, func(t *testing.T) {
			e.t = t
			e.expect(e.do("GET", "/api/v1/admin/contracts", a, nil), http.StatusOK)
		})
	}
	// Basic works for changes too (mvn deploy), with the operator's name.
	e.t = t
	r := e.do("POST", "/api/v1/admin/contracts", basic(e.names[account.RoleOperator], e.tokens[account.RoleOperator]), newContractBody("almalinux-9"))
	e.expect(r, http.StatusCreated)
}

func newContractBody(products ...string) map[string]any {
	return map[string]any{"customer": "Example KK", "end_user": "Example Bank", "products": products, "plan": "server",
		"quantity": 2, "start": "2026-04-01", "end": "2027-03-31", "contact": "infra@example.jp"}
}

// TestRoles: a viewer reads everything and changes nothing; operators and
// admins may change.
func TestRoles(t *testing.T) {
	e := newEnv(t)
	var created NewContract
	r := e.do("POST", "/api/v1/admin/contracts", e.as(account.RoleOperator), newContractBody("almalinux-9"))
	e.expect(r, http.StatusCreated)
	r.decode(t, &created)
	values := map[string]string{"repo": repoID, "id": strconv.FormatInt(e.pubs[0], 10), "support_id": created.SupportID, "host_id": "h_0000000000000000"}
	fill := func(p string) string {
		return regexp.MustCompile(`\{([a-z_]+)\}`).ReplaceAllStringFunc(p, func(m string) string { return values[m[1:len(m)-1]] })
	}
	bodies := map[string]any{
		"POST /api/v1/admin/contracts":                               newContractBody("tools"),
		"POST /api/v1/admin/contracts/{support_id}/renew":            map[string]string{"end": "2028-03-31"},
		"POST /api/v1/admin/repos/{repo}/publications/{id}/rollback": nil,
	}
	for _, rt := range Routes() {
		key := rt.Method + " " + rt.Path
		t.Run("viewer "+key, func(t *testing.T) {
			e.t = t
			r := e.do(rt.Method, fill(rt.Path), e.as(account.RoleViewer), bodies[key])
			if rt.Role == account.RoleViewer {
				e.expect(r, http.StatusOK)
				return
			}
			e.expect(r, http.StatusForbidden)
			if k := r.errKind(t); k != "forbidden" {
				t.Errorf("kind %q", k)
			}
		})
	}
	e.t = t
	if len(e.rollbacks) != 0 {
		t.Errorf("a viewer's rollback reached Ops: %v", e.rollbacks)
	}
	cs, _ := e.db.ListContracts(context.Background())
	c, _ := e.db.Contract(context.Background(), created.SupportID)
	if len(cs) != 1 || c.End != "2027-03-31" {
		t.Errorf("a viewer changed contracts: %d contracts, end %s", len(cs), c.End)
	}
	for _, role := range []string{account.RoleOperator, account.RoleAdmin} {
		e.expect(e.do("POST", "/api/v1/admin/contracts", e.as(role), newContractBody("tools")), http.StatusCreated)
		e.expect(e.do("GET", "/api/v1/admin/contracts", e.as(role), nil), http.StatusOK)
	}
}

// claim registers a host under a licence key, as the server's register does.
func (e *env) claim(key, machine string) store.Host {
	e.t.Helper()
	h, _, err := e.db.ClaimSeat(context.Background(), store.SeatClaim{KeyHash: entitle.Hash(entitle.NormalizeKey(key)),
		MachineID: machine, Hostname: machine + ".example.jp", NewHostID: entitle.NewHostID(),
		SecretHash: entitle.Hash(entitle.NewSecret()), Now: e.now})
	if err != nil {
		e.t.Fatal(err)
	}
	return h
}

func TestContractLifecycle(t *testing.T) {
	e := newEnv(t)
	op := e.as(account.RoleOperator)
	r := e.do("POST", "/api/v1/admin/contracts", op, newContractBody("almalinux-9", "tools"))
	e.expect(r, http.StatusCreated)
	var created NewContract
	r.decode(t, &created)
	if len(created.LicenseKeys) != 2 || !entitle.LooksLikeKey(created.LicenseKeys["almalinux-9"]) || !entitle.LooksLikeKey(created.LicenseKeys["tools"]) {
		t.Fatalf("licence keys %v", created.LicenseKeys)
	}
	if loc := r.header.Get("Location"); loc != "/api/v1/admin/contracts/"+created.SupportID {
		t.Errorf("Location %q", loc)
	}
	if cc := r.header.Get("Cache-Control"); cc != "no-store" {
		t.Errorf("Cache-Control %q on a response with licence keys", cc)
	}
	logs := e.logs.String()
	if !strings.Contains(logs, "token=ci-operator") || !strings.Contains(logs, "operation=contract.create") || !strings.Contains(logs, created.SupportID) {
		t.Errorf("the change is not logged with the token's name: %s", logs)
	}
	if strings.Contains(logs, created.LicenseKeys["tools"]) {
		t.Error("a licence key reached the log")
	}

	r = e.do("GET", "/api/v1/admin/contracts", e.as(account.RoleViewer), nil)
	e.expect(r, http.StatusOK)
	var list []Contract
	r.decode(t, &list)
	if len(list) != 1 || list[0].SupportID != created.SupportID || !list[0].Valid || list[0].EndUser != "Example Bank" || list[0].Quantity != 2 {
		t.Fatalf("contracts %+v", list)
	}
	if strings.Contains(string(r.body), "EK-") {
		t.Error("the contract list shows a licence key")
	}

	h1 := e.claim(created.LicenseKeys["almalinux-9"], "m1")
	r = e.do("GET", "/api/v1/admin/contracts/"+created.SupportID, e.as(account.RoleViewer), nil)
	e.expect(r, http.StatusOK)
	var d ContractDetail
	r.decode(t, &d)
	if d.SeatsUsed != 1 || len(d.Hosts) != 1 || d.Hosts[0].HostID != h1.ID || d.Hosts[0].Hostname != "m1.example.jp" || d.Hosts[0].Product != "almalinux-9" {
		t.Errorf("detail %+v", d)
	}
	if len(d.PerProduct) != 2 || d.PerProduct[0] != (ProductSeats{"almalinux-9", 2, 1}) || d.PerProduct[1] != (ProductSeats{"tools", 2, 0}) {
		t.Errorf("per product %+v", d.PerProduct)
	}
	e.expect(e.do("GET", "/api/v1/admin/contracts/ENM-2026-NOSUCH", e.as(account.RoleViewer), nil), http.StatusNotFound)

	// Renew.
	path := "/api/v1/admin/contracts/" + created.SupportID + "/renew"
	r = e.do("POST", path, op, map[string]string{"end": "2028-03-31"})
	e.expect(r, http.StatusOK)
	var rn Renewal
	r.decode(t, &rn)
	if rn != (Renewal{created.SupportID, "2026-04-01", "2028-03-31"}) {
		t.Errorf("renewal %+v", rn)
	}
	if c, _ := e.db.Contract(context.Background(), created.SupportID); c.End != "2028-03-31" {
		t.Errorf("stored end %s", c.End)
	}
	// An end before the start is refused (an earlier end shortens or ends
	// the contract: that is allowed, see vendorops).
	r = e.do("POST", path, op, map[string]string{"end": "2026-01-01"})
	e.expect(r, http.StatusBadRequest)
	if k := r.errKind(t); k != "invalid" {
		t.Errorf("kind %q", k)
	}
	e.expect(e.do("POST", path, op, map[string]string{"end": "next year"}), http.StatusBadRequest)
	e.expect(e.do("POST", "/api/v1/admin/contracts/ENM-2026-NOSUCH/renew", op, map[string]string{"end": "2030-01-01"}), http.StatusNotFound)

	// Seats: another contract's host is not this contract's to release.
	r = e.do("POST", "/api/v1/admin/contracts", op, newContractBody("almalinux-9"))
	e.expect(r, http.StatusCreated)
	var other NewContract
	r.decode(t, &other)
	h2 := e.claim(other.LicenseKeys["almalinux-9"], "m2")
	r = e.do("DELETE", "/api/v1/admin/contracts/"+created.SupportID+"/hosts/"+h2.ID, op, nil)
	e.expect(r, http.StatusNotFound)
	if _, err := e.db.Host(context.Background(), h2.ID); err != nil {
		t.Errorf("the other contract's host is gone: %v", err)
	}
	seat := "/api/v1/admin/contracts/" + created.SupportID + "/hosts/" + h1.ID
	e.expect(e.do("DELETE", seat, op, nil), http.StatusNoContent)
	if _, err := e.db.Host(context.Background(), h1.ID); !errs.Is(err, errs.NotFound) {
		t.Errorf("released host still there: %v", err)
	}
	if len(e.released) != 1 || e.released[0] != h1.ID {
		t.Errorf("Ops.Released told %v", e.released)
	}
	r = e.do("DELETE", seat, op, nil)
	e.expect(r, http.StatusNotFound)
	if k := r.errKind(t); k != "not_found" {
		t.Errorf("kind %q", k)
	}
	if !strings.Contains(e.logs.String(), "operation=seat.release") {
		t.Error("the release is not logged")
	}
}

func TestBadRequests(t *testing.T) {
	e := newEnv(t)
	op := e.as(account.RoleOperator)
	valid, _ := json.Marshal(newContractBody("almalinux-9"))
	withField := func(k string, v any) map[string]any {
		b := newContractBody("almalinux-9")
		b[k] = v
		return b
	}
	for name, body := range map[string]any{
		"unknown field":      withField("seats", 3),
		"wrong type":         withField("quantity", "two"),
		"not JSON":           "customer=Example",
		"empty":              "",
		"two values":         string(valid) + string(valid),
		"trailing junk":      string(valid) + "x",
		"array":              "[]",
		"over 64 KiB":        withField("customer", strings.Repeat("x", 64<<10)),
		"duplicate products": newContractBody("almalinux-9", "almalinux-9"),
		"unknown product":    newContractBody("windows-11"),
		"no products":        newContractBody(),
		"developer plan":     withField("plan", "developer"),
		"bad contact":        withField("contact", "a@example.jp, b@example.jp"),
		"end before start":   withField("end", "2026-01-01"),
		"zero quantity":      withField("quantity", 0),
	} {
		t.Run(name, func(t *testing.T) {
			e.t = t
			r := e.do("POST", "/api/v1/admin/contracts", op, body)
			e.expect(r, http.StatusBadRequest)
			if k := r.errKind(t); k != "invalid" {
				t.Errorf("kind %q", k)
			}
		})
	}
	e.t = t
	if cs, _ := e.db.ListContracts(context.Background()); len(cs) != 0 {
		t.Errorf("bad requests created %d contracts", len(cs))
	}
	// The plan defaults to server, as on the command line.
	b := newContractBody("almalinux-9")
	delete(b, "plan")
	delete(b, "end_user")
	e.expect(e.do("POST", "/api/v1/admin/contracts", op, b), http.StatusCreated)
	cs, _ := e.db.ListContracts(context.Background())
	if len(cs) != 1 || cs[0].Plan != "server" {
		t.Errorf("contracts %+v", cs)
	}
	e.expect(e.do("POST", "/api/v1/admin/contracts/"+cs[0].SupportID+"/renew", op, map[string]any{"end": "2028-01-01", "start": "2020-01-01"}), http.StatusBadRequest)
}

func TestCatalog(t *testing.T) {
	e := newEnv(t)
	v := e.as(account.RoleViewer)
	r := e.do("GET", "/api/v1/admin/products", v, nil)
	e.expect(r, http.StatusOK)
	var ps []Product
	r.decode(t, &ps)
	if len(ps) != 2 {
		t.Fatalf("products %+v", ps)
	}
	for _, p := range ps {
		switch p.ID {
		case "almalinux-9":
			if p.EOL == nil || *p.EOL != "2032-05-31" || p.OSID != "almalinux" || p.OSVersion != "9" || p.Format != "rpm" {
				t.Errorf("product %+v", p)
			}
		case "tools":
			if p.EOL != nil {
				t.Errorf("tools has eol %q, want null", *p.EOL)
			}
		}
	}

	r = e.do("GET", "/api/v1/admin/repos", v, nil)
	e.expect(r, http.StatusOK)
	var rs []Repo
	r.decode(t, &rs)
	if len(rs) != 2 {
		t.Fatalf("repos %+v", rs)
	}
	for _, rp := range rs {
		switch rp.ID {
		case repoID:
			if rp.Current == nil || *rp.Current != e.pubs[1] || rp.Product != "almalinux-9" || rp.Arch != "x86_64" {
				t.Errorf("repo %+v", rp)
			}
		case "tools-bookworm":
			if rp.Current != nil || rp.Suite != "bookworm" || rp.Component != "main" {
				t.Errorf("repo %+v", rp)
			}
		}
	}

	r = e.do("GET", "/api/v1/admin/repos/"+repoID+"/publications", v, nil)
	e.expect(r, http.StatusOK)
	var pubs []Publication
	r.decode(t, &pubs)
	if len(pubs) != 2 || pubs[0].ID != e.pubs[1] || !pubs[0].Current || pubs[1].Current || pubs[0].Packages != 4 || pubs[0].RollbackOf != nil {
		t.Errorf("publications %+v", pubs)
	}
	if !pubs[0].CreatedAt.Equal(e.now.Add(time.Hour)) {
		t.Errorf("created_at %v", pubs[0].CreatedAt)
	}
	e.expect(e.do("GET", "/api/v1/admin/repos/tools-bookworm/publications", v, nil), http.StatusOK)
	e.expect(e.do("GET", "/api/v1/admin/repos/nosuch/publications", v, nil), http.StatusNotFound)
}

func TestRollback(t *testing.T) {
	e := newEnv(t)
	op := e.as(account.RoleOperator)
	path := func(id string) string { return "/api/v1/admin/repos/" + repoID + "/publications/" + id + "/rollback" }
	r := e.do("POST", path(strconv.FormatInt(e.pubs[0], 10)), op, nil)
	e.expect(r, http.StatusOK)
	var rb Rollback
	r.decode(t, &rb)
	if len(e.rollbacks) != 1 || e.rollbacks[0] != (rollbackCall{repoID, e.pubs[0]}) {
		t.Fatalf("Ops.Rollback calls %v", e.rollbacks)
	}
	if rb.Repo != repoID || rb.RollbackOf != e.pubs[0] || rb.Packages != 3 || rb.Current <= e.pubs[1] {
		t.Errorf("rollback %+v", rb)
	}
	if !strings.Contains(e.logs.String(), "operation=publication.rollback") {
		t.Error("the rollback is not logged")
	}
	r = e.do("GET", "/api/v1/admin/repos/"+repoID+"/publications", op, nil)
	var pubs []Publication
	r.decode(t, &pubs)
	if len(pubs) != 3 || pubs[0].ID != rb.Current || !pubs[0].Current || pubs[0].RollbackOf == nil || *pubs[0].RollbackOf != e.pubs[0] {
		t.Errorf("publications after the rollback %+v", pubs)
	}

	for _, id := range []string{"abc", "0", "-1", "99999999999999999999"} {
		e.expect(e.do("POST", path(id), op, nil), http.StatusBadRequest)
	}
	e.expect(e.do("POST", path("12345"), op, nil), http.StatusNotFound)
	if len(e.rollbacks) != 2 {
		t.Errorf("Ops.Rollback calls %v: a malformed ID reached it", e.rollbacks)
	}

	// A process without the signing key says so.
	a := New(Config{Store: e.db, Ops: &vendorops.Ops{Store: e.db, Now: time.Now}})
	mux := http.NewServeMux()
	a.Register(mux.Handle)
	req := httptest.NewRequest("POST", path("1"), nil)
	bearer(e.tokens[account.RoleAdmin])(req)
	rec := httptest.NewRecorder()
	mux.ServeHTTP(rec, req)
	if rec.Code != http.StatusBadRequest || !strings.Contains(rec.Body.String(), "signing key") {
		t.Errorf("without Rollback: %d %s", rec.Code, rec.Body)
	}
}

func TestOutbox(t *testing.T) {
	e := newEnv(t)
	v := e.as(account.RoleViewer)
	r := e.do("GET", "/api/v1/admin/outbox", v, nil)
	e.expect(r, http.StatusOK)
	if strings.Contains(string(r.body), "SECRETLINK") || strings.Contains(string(r.body), `"message"`) {
		t.Errorf("the outbox shows message bodies: %s", r.body)
	}
	var ms []Mail
	r.decode(t, &ms)
	if len(ms) != 2 {
		t.Fatalf("mails %+v", ms)
	}
	for _, m := range ms {
		switch m.To {
		case "alice@example.jp":
			if m.Status != "sent" || m.SentAt == nil || !m.SentAt.Equal(e.now.Add(time.Minute)) {
				t.Errorf("sent mail %+v", m)
			}
		case "bob@example.jp":
			if m.Status != "queued" || m.SentAt != nil {
				t.Errorf("queued mail %+v", m)
			}
		}
	}
	if !strings.Contains(string(r.body), `"sent_at":null`) {
		t.Errorf("an unsent mail's sent_at is not null: %s", r.body)
	}
	r = e.do("GET", "/api/v1/admin/outbox?limit=1", v, nil)
	e.expect(r, http.StatusOK)
	r.decode(t, &ms)
	if len(ms) != 1 {
		t.Errorf("limit=1 gave %d mails", len(ms))
	}
	for _, l := range []string{"0", "-3", "abc", "1001"} {
		e.expect(e.do("GET", "/api/v1/admin/outbox?limit="+l, v, nil), http.StatusBadRequest)
	}
}

// TestCrossOrigin: a browser holding the credential cannot be made to
// change anything by another site; reads are unaffected.
func TestCrossOrigin(t *testing.T) {
	e := newEnv(t)
	cross := func(a auth) auth {
		return func(r *http.Request) {
			a(r)
			r.Header.Set("Sec-Fetch-Site", "cross-site")
			r.Header.Set("Origin", "https://evil.example")
		}
	}
	r := e.do("POST", "/api/v1/admin/contracts", cross(e.as(account.RoleAdmin)), newContractBody("almalinux-9"))
	e.expect(r, http.StatusForbidden)
	if cs, _ := e.db.ListContracts(context.Background()); len(cs) != 0 {
		t.Error("a cross-site request created a contract")
	}
	e.expect(e.do("GET", "/api/v1/admin/contracts", cross(e.as(account.RoleViewer)), nil), http.StatusOK)
}
