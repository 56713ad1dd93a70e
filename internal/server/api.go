package server

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"

	"github.com/enmei-project/enmei/internal/api"
	"github.com/enmei-project/enmei/internal/entitle"
	"github.com/enmei-project/enmei/internal/errs"
	"github.com/enmei-project/enmei/internal/store"
)

func (s *Server) register(w http.ResponseWriter, r *http.Request) {
	var req api.RegisterRequest
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 64<<10)).Decode(&req); err != nil {
		s.fail(w, r, errs.E(errs.Invalid, "the registration request is not valid JSON: update the enmei agent"))
		return
	}
	req.Hostname = strings.TrimSpace(req.Hostname)
	if req.Key == "" || len(req.MachineID) < 16 || len(req.MachineID) > 128 || len(req.Hostname) > 255 {
		s.fail(w, r, errs.E(errs.Invalid, "the registration request needs a licence key and a machine identity"))
		return
	}
	now := s.cfg.Now()
	secret := entitle.NewSecret()
	host, reused, err := s.cfg.Store.ClaimSeat(r.Context(), store.SeatClaim{
		KeyHash:    entitle.Hash(entitle.NormalizeKey(req.Key)),
		MachineID:  req.MachineID,
		Hostname:   req.Hostname,
		NewHostID:  entitle.NewHostID(),
		SecretHash: entitle.Hash(secret),
		Now:        now,
		Check:      func(c store.Contract) error { return entitle.CheckValid(c, now) },
	})
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.forget(host.ID)
	contract, repos, err := s.hostView(r.Context(), host)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	key, err := s.cfg.Key.ArmoredPublic()
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.cfg.Log.Info("host registered", "host", host.ID, "support_id", host.SupportID, "product", host.ProductID, "reused", reused)
	writeJSON(w, api.RegisterResponse{
		HostID: host.ID, Secret: secret, Reused: reused,
		Contract: contract, Repos: repos, SigningKey: string(key),
	})
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

// authHostAnyContract checks the credential only: a host of an expired
// contract may still give its seat back.
func (s *Server) authHostAnyContract(r *http.Request) (store.Host, store.Contract, error) {
	id, secret, ok := r.BasicAuth()
	if !ok {
		return store.Host{}, store.Contract{}, errs.E(errs.Unauthorized, "this needs the host credential that enmei register writes: register the host first")
	}
	e := s.hostFacts(r.Context(), id, s.cfg.Now())
	if e.err != nil {
		if errs.Is(e.err, errs.NotFound) {
			return store.Host{}, store.Contract{}, errs.E(errs.Unauthorized, "the host credential is not valid (the host was unregistered or its seat released): run enmei register again")
		}
		return store.Host{}, store.Contract{}, e.err
	}
	if !entitle.Matches(secret, e.host.SecretHash) {
		return store.Host{}, store.Contract{}, errs.E(errs.Unauthorized, "the host credential is not valid: run enmei register again")
	}
	return e.host, e.contract, nil
}

func (s *Server) status(w http.ResponseWriter, r *http.Request) {
	host, _, err := s.authHostAnyContract(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	// Fresh from the store: status is rare and should show the truth now.
	host, err = s.cfg.Store.Host(r.Context(), host.ID)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	contract, repos, err := s.hostView(r.Context(), host)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.noteSeen(host.ID, s.cfg.Now())
	writeJSON(w, api.Status{
		HostID: host.ID, Hostname: host.Hostname, RegisteredAt: host.RegisteredAt, LastSeen: host.LastSeen,
		Contract: contract, Repos: repos,
	})
}

// hostView is what a host may know: its contract and the repositories of the
// product its key is for.
func (s *Server) hostView(ctx context.Context, host store.Host) (api.Contract, []api.Repo, error) {
	c, err := s.cfg.Store.Contract(ctx, host.SupportID)
	if err != nil {
		return api.Contract{}, nil, err
	}
	hosts, err := s.cfg.Store.Hosts(ctx, host.SupportID)
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
		repos = append(repos, api.Repo{
			ID: r.ID, Name: product.Name + " (" + r.ID + ")", Format: r.Format, Arch: r.Arch,
			Suite: r.Suite, Component: r.Component, Path: "/repos/" + r.ID + "/",
		})
	}
	return api.Contract{
		SupportID: c.SupportID, Customer: c.Customer, Plan: c.Plan, Products: c.Products, Product: host.ProductID,
		Quantity: c.Quantity, SeatsUsed: used, Start: c.Start, End: c.End,
		Valid: entitle.CheckValid(c, s.cfg.Now()) == nil,
	}, repos, nil
}
