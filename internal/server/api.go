package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"time"

	"github.com/enmei-project/enmei/internal/api"
	"github.com/enmei-project/enmei/internal/entitle"
	"github.com/enmei-project/enmei/internal/errs"
	"github.com/enmei-project/enmei/internal/store"
)

// machineIDShape is what the agent sends: a hex digest of /etc/machine-id.
var machineIDShape = regexp.MustCompile(`^[0-9A-Za-z_-]{16,128}$`)

func (s *Server) register(w http.ResponseWriter, r *http.Request) {
	if f := r.URL.Query().Get("format"); f != "" && f != FormatYumRepo {
		s.refused(w, r, errs.E(errs.Invalid, "the registration format %.32q is not one this server knows (%s, or none for JSON): update the script or agent that sent it", f, FormatYumRepo))
		return
	}
	var req api.RegisterRequest
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 64<<10)).Decode(&req); err != nil {
		s.refused(w, r, errs.E(errs.Invalid, "the registration request is not valid JSON: update the enmei agent"))
		return
	}
	key, err := checkRegistration(&req)
	if err != nil {
		s.refused(w, r, err)
		return
	}
	ctx := r.Context()
	now := s.cfg.Now()
	// Look the key up without any lock first: a flood of wrong keys must
	// not queue behind (or hold) the database's write lock.
	lk, err := s.cfg.Store.LicenseKeyByHash(ctx, entitle.Hash(key))
	if err != nil {
		s.refused(w, r, err)
		return
	}
	product, err := s.cfg.Store.Product(ctx, lk.ProductID)
	if err != nil {
		s.refused(w, r, err)
		return
	}
	if err := checkOS(product, &req); err != nil {
		s.refused(w, r, err)
		return
	}
	if r.URL.Query().Get("format") == FormatYumRepo {
		if err := s.checkYumRepos(ctx, product, req.Arch); err != nil {
			s.refused(w, r, err)
			return
		}
	}
	pub, err := s.cfg.PublicKey(ctx)
	if err != nil {
		s.refused(w, r, err)
		return
	}
	armored, err := pub.ArmoredPublic()
	if err != nil {
		s.refused(w, r, err)
		return
	}
	var lease time.Duration
	if req.LeaseMS != 0 {
		lease = time.Duration(req.LeaseMS) * time.Millisecond
		if err := entitle.CheckLease(lease); err != nil {
			s.refused(w, r, err)
			return
		}
	}
	secret := s.currentSecret(ctx, lk, &req)
	host, reused, err := s.cfg.Store.ClaimSeat(ctx, store.SeatClaim{
		KeyHash:    entitle.Hash(key),
		MachineID:  req.MachineID,
		Hostname:   req.Hostname,
		OS:         hostOS(req),
		NewHostID:  entitle.NewHostID(),
		SecretHash: entitle.Hash(secret),
		Now:        now,
		Clock:      s.cfg.Now,
		Lease:      lease,
		Virt:       req.Virt,
		Check: func(c store.Contract) error {
			if err := entitle.CheckValid(c, now); err != nil {
				return err
			}
			return entitle.CheckVirt(c, req.Virt)
		},
		Counted: func(c store.Contract) bool { return entitle.SeatCounted(c, req.Virt) },
	})
	if errors.Is(err, store.ErrNoSeat) {
		err = s.noSeat(ctx, lk.SupportID, "")
	}
	if err != nil {
		s.refused(w, r, err)
		return
	}
	s.forget(host.ID)
	contract, repos, err := s.hostView(ctx, host)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	result := "new"
	if reused {
		result = "reused"
	}
	if s.cfg.Hooks.Registration != nil {
		s.cfg.Hooks.Registration(result)
	}
	s.cfg.Log.Info("host registered", "host", host.ID, "support_id", host.SupportID, "product", host.ProductID, "reused", reused)
	if r.URL.Query().Get("format") == FormatYumRepo {
		s.writeYumRepo(w, r, host, secret, repos, req.Arch)
		return
	}
	writeJSON(w, api.RegisterResponse{
		HostID: host.ID, Secret: secret, Reused: reused,
		Contract: contract, Repos: repos, SigningKey: string(armored), Lease: leaseOf(host),
	})
}

// currentSecret returns the secret the host already holds for this key's
// seat on this machine, when it proves it with one of its credentials, and
// a new secret otherwise (a reinstalled host, a lost host.json).
func (s *Server) currentSecret(ctx context.Context, lk store.LicenseKey, req *api.RegisterRequest) string {
	for i, c := range req.Credentials {
		if i >= maxCredentials {
			break
		}
		if !entitle.LooksLikeHostID(c.HostID) || !entitle.LooksLikeSecret(c.Secret) {
			continue
		}
		h, err := s.cfg.Store.Host(ctx, c.HostID)
		if err == nil && h.KeyID == lk.ID && h.MachineID == req.MachineID && entitle.Matches(c.Secret, h.SecretHash) {
			return c.Secret
		}
	}
	return entitle.NewSecret()
}

// maxCredentials bounds the lookups one registration may cause.
const maxCredentials = 16

// refused answers a registration that took no seat.
func (s *Server) refused(w http.ResponseWriter, r *http.Request, err error) {
	if s.cfg.Hooks.Registration != nil {
		s.cfg.Hooks.Registration("refused")
	}
	s.fail(w, r, err)
}

// checkRegistration validates a registration request by shape alone and
// returns the normalised licence key. Nothing is looked up for a request
// that fails here.
func checkRegistration(req *api.RegisterRequest) (string, error) {
	key := entitle.NormalizeKey(req.Key)
	if key == "" {
		return "", errs.E(errs.Invalid, "the registration request has no licence key: pass the key from the support certificate")
	}
	if !entitle.LooksLikeKey(key) {
		return "", store.ErrUnknownKey
	}
	if !machineIDShape.MatchString(req.MachineID) {
		return "", errs.E(errs.Invalid, "the registration request has no usable machine identity: update the enmei agent")
	}
	req.Hostname = strings.TrimSpace(req.Hostname)
	if !entitle.ValidHostname(req.Hostname) {
		return "", errs.E(errs.Invalid, "the host name %.64q holds control characters, spaces or more than 253 bytes: pass --hostname NAME or --no-hostname", req.Hostname)
	}
	for _, v := range append([]string{req.OSID, req.OSVersion, req.Arch, req.Virt}, req.OSLike...) {
		if len(v) > 64 || !entitle.ValidHostname(v) {
			return "", errs.E(errs.Invalid, "the registration request describes the OS with unusable values: update the enmei agent")
		}
	}
	if len(req.OSLike) > 16 {
		return "", errs.E(errs.Invalid, "the registration request describes the OS with unusable values: update the enmei agent")
	}
	return key, nil
}

// checkOS refuses a host of another OS than the one an OS product serves,
// before a seat is taken.
func checkOS(p store.Product, req *api.RegisterRequest) error {
	if p.OSID == "" && p.OSVersion == "" {
		return nil
	}
	want := p.OSID
	if p.OSVersion != "" {
		want += " " + p.OSVersion
	}
	got := strings.TrimSpace(req.OSID + " " + req.OSVersion)
	if got == "" {
		got = "an OS that did not say what it is"
	}
	if p.OSID != "" && req.OSID != p.OSID && !contains(req.OSLike, p.OSID) {
		return errs.E(errs.Entitlement, "the licence key is for %s (%s hosts), but this host runs %s: use the key of the product for this host's OS; no seat was taken", p.ID, want, got)
	}
	if p.OSVersion != "" && req.OSVersion != p.OSVersion && !strings.HasPrefix(req.OSVersion, p.OSVersion+".") {
		return errs.E(errs.Entitlement, "the licence key is for %s (%s hosts), but this host runs %s: use the key of the product for this host's OS version; no seat was taken", p.ID, want, got)
	}
	return nil
}

func (s *Server) unregister(w http.ResponseWriter, r *http.Request) {
	host, _, err := s.authHostAnyContract(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if err := s.cfg.Store.ReleaseSeat(r.Context(), host.SupportID, host.ID); err != nil {
		s.fail(w, r, err)
		return
	}
	s.forget(host.ID)
	s.cfg.Log.Info("host unregistered", "host", host.ID, "support_id", host.SupportID)
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) status(w http.ResponseWriter, r *http.Request) {
	host, _, err := s.authHostAnyContract(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	// Fresh from the store: status is rare and should show the truth now.
	host, err = s.cfg.Store.Host(r.Context(), host.ID)
	if errs.Is(err, errs.NotFound) {
		err = errs.E(errs.Unauthorized, "the host credential is not valid (the host was unregistered or its seat released): run enmei register again")
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	contract, repos, err := s.hostView(r.Context(), host)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.noteSeen(host, s.cfg.Now())
	st := api.Status{
		HostID: host.ID, Hostname: host.Hostname, RegisteredAt: host.RegisteredAt, LastSeen: host.LastSeen,
		Contract: contract, Repos: repos, Lease: leaseOf(host),
	}
	if p, err := s.cfg.Store.Product(r.Context(), host.ProductID); err == nil {
		ph := entitle.PhaseAt(p.Lifecycle(), s.cfg.Now())
		st.Phase, st.PhaseUntil = ph.Name, ph.Until
	}
	writeJSON(w, st)
}

// heartbeat renews the host's lease, or takes a seat again for a lease
// that ended if one is free. The contract must be valid now.
func (s *Server) heartbeat(w http.ResponseWriter, r *http.Request) {
	host, _, err := s.authHostAnyContract(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	now := s.cfg.Now()
	host, err = s.cfg.Store.Heartbeat(r.Context(), host.ID, now, func(c store.Contract) error { return entitle.CheckValid(c, now) })
	s.forget(host.ID)
	switch {
	case errs.Is(err, errs.NotFound):
		err = errs.E(errs.Unauthorized, "the host credential is not valid (the host was unregistered, its seat released, or its lease ended long ago): run enmei register again")
	case errors.Is(err, store.ErrNoSeat):
		err = s.noSeat(r.Context(), host.SupportID, "this host's lease ended and ")
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, api.Heartbeat{HostID: host.ID, Lease: leaseOf(host)})
}

// noSeat is the refusal of a seat, naming the quantity in use.
func (s *Server) noSeat(ctx context.Context, supportID, prefix string) error {
	c, err := s.cfg.Store.Contract(ctx, supportID)
	if err != nil {
		return store.ErrNoSeat
	}
	return errs.Wrap(errs.Entitlement, store.ErrNoSeat, fmt.Sprintf("%sno seat left on this licence key: all %d seats of contract %s are in use; unregister a host, wait for an ephemeral host's lease to end, ask the vendor to release a lost host's seat, or buy more", prefix, c.Quantity, supportID))
}

// leaseOf is a host's lease for the API (nil for a server seat).
func leaseOf(h store.Host) *api.Lease {
	if h.LeaseTTL == 0 {
		return nil
	}
	return &api.Lease{TTLMS: h.LeaseTTL.Milliseconds(), Expires: h.LeaseExpires.UTC()}
}

// hostView is what a host may know: its contract and the repositories of the
// product its key is for.
func (s *Server) hostView(ctx context.Context, host store.Host) (api.Contract, []api.Repo, error) {
	c, err := s.cfg.Store.Contract(ctx, host.SupportID)
	if err != nil {
		return api.Contract{}, nil, err
	}
	hosts, err := s.cfg.Store.Hosts(ctx, host.SupportID, s.cfg.Now())
	if err != nil {
		return api.Contract{}, nil, err
	}
	used := 0
	for _, h := range hosts {
		if h.KeyID == host.KeyID {
			used++
		}
	}
	product, err := s.cfg.Store.Product(ctx, host.ProductID)
	if err != nil {
		return api.Contract{}, nil, err
	}
	rs, err := s.cfg.Store.Repos(ctx, host.ProductID)
	if err != nil {
		return api.Contract{}, nil, err
	}
	repos := make([]api.Repo, 0, len(rs))
	for _, r := range rs {
		ar := api.Repo{
			ID: r.ID, Name: product.Name + " (" + r.ID + ")", Format: r.Format, Arch: r.Arch,
			Suite: r.Suite, Component: r.Component, Path: "/repos/" + r.ID + "/",
		}
		if r.Mirror != nil && r.Format == "rpm" {
			ar.UpstreamKey = r.Mirror.Key
		}
		repos = append(repos, ar)
	}
	return api.Contract{
		SupportID: c.SupportID, Customer: c.Customer, Plan: c.Plan, Products: c.Products, Product: host.ProductID,
		Quantity: c.Quantity, SeatsUsed: used, Start: c.Start, End: c.End,
		Valid: entitle.CheckValid(c, s.cfg.Now()) == nil,
	}, repos, nil
}

// hostOS is the operating system a host reported, as the vendor and the
// customer see it ("almalinux 9 x86_64"); words that are not plain printable
// text are left out rather than stored.
func hostOS(req api.RegisterRequest) string {
	var words []string
	for _, w := range []string{req.OSID, req.OSVersion, req.Arch} {
		if w != "" && len(w) <= 64 && entitle.ValidHostname(w) {
			words = append(words, w)
		}
	}
	return strings.Join(words, " ")
}
