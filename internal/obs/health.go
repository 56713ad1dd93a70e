package obs

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"
)

type check struct {
	name string
	fn   func(context.Context) error
}

// AddCheck registers a readiness check run by Readyz, for example a
// database ping. fn gets a context limited to Options.CheckTimeout and must
// honour it. Checks run concurrently, in no particular order.
func (o *Obs) AddCheck(name string, fn func(ctx context.Context) error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.checks = append(o.checks, check{name, fn})
}

// Healthz answers 200 "ok" as long as the process can serve HTTP at all; it
// is the liveness probe and checks nothing else, so a database outage does
// not get the process restarted.
func (o *Obs) Healthz(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	_, _ = w.Write([]byte("ok\n"))
}

// readyBody is Readyz's JSON answer. Check results are "ok", "fail" or
// "timeout"; error details go to the log only, because readiness endpoints
// are usually reachable by anyone and errors can name internal hosts.
type readyBody struct {
	Status string            `json:"status"` // "ready", "unready" or "draining"
	Checks map[string]string `json:"checks,omitempty"`
}

// Readyz is the readiness probe: 503 at once while draining, otherwise it
// runs every check added with AddCheck and answers 200 when all pass, 503
// when one fails or times out, with a JSON body naming each check's result.
func (o *Obs) Readyz(w http.ResponseWriter, r *http.Request) {
	if o.Draining() {
		writeReady(w, http.StatusServiceUnavailable, readyBody{Status: "draining"})
		return
	}
	o.mu.Lock()
	checks := append([]check(nil), o.checks...)
	o.mu.Unlock()

	body := readyBody{Status: "ready", Checks: make(map[string]string, len(checks))}
	results := make([]string, len(checks))
	var wg sync.WaitGroup
	for i, c := range checks {
		wg.Go(func() { results[i] = o.runCheck(r.Context(), c) })
	}
	wg.Wait()
	status := http.StatusOK
	for i, c := range checks {
		body.Checks[c.name] = results[i]
		if results[i] != "ok" {
			status = http.StatusServiceUnavailable
			body.Status = "unready"
		}
	}
	// A check may have been slow enough for draining to start meanwhile.
	if o.Draining() {
		status, body.Status = http.StatusServiceUnavailable, "draining"
	}
	writeReady(w, status, body)
}

// runCheck returns "ok", "fail" or "timeout". It returns at the timeout even
// if the check ignores its context; such a check is left to finish alone.
func (o *Obs) runCheck(ctx context.Context, c check) string {
	ctx, cancel := context.WithTimeout(ctx, o.checkTimeout)
	defer cancel()
	done := make(chan error, 1)
	start := time.Now()
	go func() {
		defer func() {
			if p := recover(); p != nil {
				done <- fmt.Errorf("check panicked: %v", p)
			}
		}()
		done <- c.fn(ctx)
	}()
	var err error
	select {
	case err = <-done:
	case <-ctx.Done():
		err = ctx.Err()
	}
	switch {
	case err == nil:
		return "ok"
	case errors.Is(err, context.DeadlineExceeded) && ctx.Err() != nil:
		o.log.Warn("readiness check timed out", "check", c.name, "after", time.Since(start).Round(time.Millisecond))
		return "timeout"
	default:
		o.log.Warn("readiness check failed", "check", c.name, "err", err)
		return "fail"
	}
}

func writeReady(w http.ResponseWriter, status int, body readyBody) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	// The client may be gone; there is no one to tell.
	_ = json.NewEncoder(w).Encode(body)
}
