package obs

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

func scrape(t *testing.T, o *Obs) (int, string) {
	t.Helper()
	rec := httptest.NewRecorder()
	o.MetricsHandler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	return rec.Code, rec.Body.String()
}

func TestRegistration(t *testing.T) {
	o, _ := newTestObs(t)
	o.Registration(RegistrationNew)
	o.Registration(RegistrationNew)
	o.Registration(RegistrationRefused)
	o.Registration("bogus")
	want := `
# HELP enmei_registrations_total Host registrations, by result: new, reused or refused.
# TYPE enmei_registrations_total counter
enmei_registrations_total{result="new"} 2
enmei_registrations_total{result="other"} 1
enmei_registrations_total{result="refused"} 1
enmei_registrations_total{result="reused"} 0
`
	if err := testutil.GatherAndCompare(o.Registry(), strings.NewReader(want), "enmei_registrations_total"); err != nil {
		t.Error(err)
	}
}

func TestMetricsHandler(t *testing.T) {
	o, _ := newTestObs(t)
	h := o.Middleware(testMux())
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/repos/el9/x.rpm", nil))
	o.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "enmei_test_added", Help: "Added later."}, func() float64 { return 7 }))

	code, body := scrape(t, o)
	if code != 200 {
		t.Fatalf("status %d:\n%s", code, body)
	}
	for _, want := range []string{
		`enmei_http_requests_total{method="GET",route="GET /repos/{repo}/{path...}",status="200"} 1`,
		`enmei_http_response_bytes_total{route="GET /repos/{repo}/{path...}"} 11`,
		`enmei_http_request_duration_seconds_count{route="GET /repos/{repo}/{path...}"} 1`,
		`enmei_http_requests_in_flight 0`,
		`enmei_registrations_total{result="new"} 0`,
		`enmei_test_added 7`,
		"go_goroutines ",
		"process_start_time_seconds ",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("scrape lacks %q", want)
		}
	}
	// The registry is private: nothing leaks into the global default.
	if n, _ := testutil.GatherAndCount(prometheus.DefaultGatherer, "enmei_http_requests_total"); n != 0 {
		t.Errorf("default registry has %d enmei series", n)
	}
}

func TestInFlight(t *testing.T) {
	o, _ := newTestObs(t)
	entered, release := make(chan struct{}), make(chan struct{})
	h := o.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		close(entered)
		<-release
	}))
	done := make(chan struct{})
	go func() {
		defer close(done)
		h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/", nil))
	}()
	<-entered
	if _, body := scrape(t, o); !strings.Contains(body, "enmei_http_requests_in_flight 1\n") {
		t.Error("in-flight gauge is not 1 during a request")
	}
	close(release)
	<-done
	if _, body := scrape(t, o); !strings.Contains(body, "enmei_http_requests_in_flight 0\n") {
		t.Error("in-flight gauge is not 0 after the request")
	}
}

func TestSeatsCollector(t *testing.T) {
	var calls atomic.Int32
	rows := []SeatCount{
		{SupportID: "ES-1", Product: "el9", Used: 3, Quantity: 10},
		{SupportID: "ES-2", Product: "debian12", Used: 0, Quantity: 5},
		{SupportID: "ES-1", Product: "el9", Used: 1, Quantity: 0}, // duplicate pair: summed
	}
	c := NewSeatsCollector(func(ctx context.Context) ([]SeatCount, error) {
		calls.Add(1)
		return rows, nil
	}, time.Second, 5*time.Second)
	now := time.Unix(1_000_000, 0)
	c.now = func() time.Time { return now }

	want := `
# HELP enmei_seats_quantity Seats bought per contract and product.
# TYPE enmei_seats_quantity gauge
enmei_seats_quantity{product="debian12",support_id="ES-2"} 5
enmei_seats_quantity{product="el9",support_id="ES-1"} 10
# HELP enmei_seats_used Seats in use (registered hosts) per contract and product.
# TYPE enmei_seats_used gauge
enmei_seats_used{product="debian12",support_id="ES-2"} 0
enmei_seats_used{product="el9",support_id="ES-1"} 4
`
	if err := testutil.CollectAndCompare(c, strings.NewReader(want)); err != nil {
		t.Fatal(err)
	}
	// A storm of concurrent scrapes within the TTL: one query.
	var wg sync.WaitGroup
	for range 20 {
		wg.Go(func() { testutil.CollectAndCount(c) })
	}
	wg.Wait()
	if n := calls.Load(); n != 1 {
		t.Errorf("%d queries within the TTL, want 1", n)
	}
	now = now.Add(5 * time.Second)
	rows = rows[:1]
	if n := testutil.CollectAndCount(c); n != 2 {
		t.Errorf("%d series after the TTL, want 2", n)
	}
	if n := calls.Load(); n != 2 {
		t.Errorf("%d queries after the TTL, want 2", n)
	}
}

func TestSeatsCollectorErrors(t *testing.T) {
	o, logs := newTestObs(t)
	var calls atomic.Int32
	var hang atomic.Bool
	hang.Store(true)
	c := NewSeatsCollector(func(ctx context.Context) ([]SeatCount, error) {
		calls.Add(1)
		if hang.Load() {
			<-ctx.Done() // a database that does not answer
			return nil, ctx.Err()
		}
		return nil, errors.New("connection refused")
	}, 50*time.Millisecond, time.Hour)
	now := time.Unix(1_000_000, 0)
	c.now = func() time.Time { return now }
	o.MustRegister(c)

	start := time.Now()
	code, body := scrape(t, o)
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("scrape took %v despite the 50ms timeout", d)
	}
	// The failing collector is left out; the rest is still served.
	if code != 200 || !strings.Contains(body, "enmei_http_requests_in_flight") || strings.Contains(body, "enmei_seats_used{") {
		t.Errorf("status %d, body:\n%s", code, body)
	}
	if !strings.Contains(logs.String(), "counting seats: context deadline exceeded") {
		t.Errorf("error not logged:\n%s", logs)
	}
	// The error is cached too: a database in trouble is not asked again.
	hang.Store(false)
	_, body = scrape(t, o)
	// Counted after the gathering it reports on, so it shows in this scrape.
	if !strings.Contains(body, `promhttp_metric_handler_errors_total{cause="gathering"} 1`) {
		t.Error("collection error not counted")
	}
	if n := calls.Load(); n != 1 {
		t.Errorf("%d queries, want 1 (error cached)", n)
	}
	now = now.Add(time.Hour)
	_, err := o.Registry().Gather()
	if err == nil || !strings.Contains(err.Error(), "counting seats: connection refused") {
		t.Errorf("Gather error %v", err)
	}
}

func TestHealthz(t *testing.T) {
	o, _ := newTestObs(t)
	o.AddCheck("database", func(context.Context) error { return errors.New("down") })
	o.SetDraining()
	rec := httptest.NewRecorder()
	o.Healthz(rec, httptest.NewRequest("GET", "/healthz", nil))
	body, _ := io.ReadAll(rec.Body)
	// Liveness ignores readiness: restarting would not help.
	if rec.Code != 200 || string(body) != "ok\n" {
		t.Errorf("healthz %d %q", rec.Code, body)
	}
}
