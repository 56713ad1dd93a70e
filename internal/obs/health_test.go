package obs

import (
	"context"
	"encoding/json"
	"errors"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func ready(t *testing.T, o *Obs) (int, readyBody) {
	t.Helper()
	rec := httptest.NewRecorder()
	o.Readyz(rec, httptest.NewRequest("GET", "/readyz", nil))
	var b readyBody
	if err := json.Unmarshal(rec.Body.Bytes(), &b); err != nil {
		t.Fatalf("readyz body %q: %v", rec.Body, err)
	}
	if ct := rec.Header().Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type %q", ct)
	}
	return rec.Code, b
}

func TestReadyz(t *testing.T) {
	o, logs := newTestObs(t)
	if code, b := ready(t, o); code != 200 || b.Status != "ready" || len(b.Checks) != 0 {
		t.Errorf("no checks: %d %+v", code, b)
	}

	// Set between Readyz calls only, which wait for their checks.
	var dbErr error
	o.AddCheck("database", func(ctx context.Context) error { return dbErr })
	o.AddCheck("blobs", func(context.Context) error { return nil })
	if code, b := ready(t, o); code != 200 || b.Status != "ready" || b.Checks["database"] != "ok" || b.Checks["blobs"] != "ok" {
		t.Errorf("passing checks: %d %+v", code, b)
	}

	dbErr = errors.New("dial tcp db.internal:5432: connection refused")
	code, b := ready(t, o)
	if code != 503 || b.Status != "unready" || b.Checks["database"] != "fail" || b.Checks["blobs"] != "ok" {
		t.Errorf("failing check: %d %+v", code, b)
	}
	if !strings.Contains(logs.String(), "db.internal:5432") {
		t.Error("check error not logged")
	}
}

func TestReadyzTimeout(t *testing.T) {
	o, _ := newTestObs(t) // CheckTimeout 200ms
	o.AddCheck("database", func(ctx context.Context) error {
		<-ctx.Done()
		return ctx.Err()
	})
	stubborn := make(chan struct{})
	defer close(stubborn)
	o.AddCheck("blobs", func(context.Context) error {
		<-stubborn // ignores its context
		return nil
	})
	start := time.Now()
	code, b := ready(t, o)
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("readyz took %v", d)
	}
	if code != 503 || b.Checks["database"] != "timeout" || b.Checks["blobs"] != "timeout" {
		t.Errorf("timed-out checks: %d %+v", code, b)
	}
}

func TestReadyzDraining(t *testing.T) {
	o, _ := newTestObs(t)
	var ran atomic.Bool
	o.AddCheck("database", func(context.Context) error { ran.Store(true); return nil })
	o.SetDraining()
	if !o.Draining() {
		t.Error("Draining() false after SetDraining")
	}
	if code, b := ready(t, o); code != 503 || b.Status != "draining" {
		t.Errorf("draining: %d %+v", code, b)
	}
	if ran.Load() {
		t.Error("checks ran while draining")
	}
}

func TestReadyzPanickingCheck(t *testing.T) {
	o, _ := newTestObs(t)
	o.AddCheck("blobs", func(context.Context) error { panic("boom") })
	if code, b := ready(t, o); code != 503 || b.Checks["blobs"] != "fail" {
		t.Errorf("panicking check: %d %+v", code, b)
	}
}
