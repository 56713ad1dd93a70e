// Package obs gives enmeid's HTTP server its operational surface: an access
// log and Prometheus metrics recorded by one middleware (with the route label
// taken from the ServeMux pattern, never the raw path, so metric cardinality
// stays bounded), a private metrics registry served by MetricsHandler, seat
// gauges read from the database on scrape with a timeout and a short cache,
// liveness and readiness handlers for load balancers, slog logger
// construction, and Serve, which stops an http.Server gracefully: readiness
// fails first, the load balancer gets a drain period to notice, running
// downloads get a limit to finish, and whatever is left is closed.
package obs

import (
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Registration results counted by Obs.Registration.
const (
	RegistrationNew     = "new"
	RegistrationReused  = "reused"
	RegistrationRefused = "refused"
)

// Route labels for requests that matched no ServeMux pattern, and for
// patterns beyond maxRoutes (a guard against a misbehaving caller of
// SetRoute inflating metric cardinality).
const (
	RouteUnmatched = "unmatched"
	RouteOther     = "other"
)

const (
	maxRoutes           = 100
	defaultCheckTimeout = 2 * time.Second
)

// Options configures New; the zero value is usable.
type Options struct {
	// Log receives the access log and obs's own warnings; nil means
	// slog.Default().
	Log *slog.Logger
	// CheckTimeout bounds each readiness check; 0 means 2s.
	CheckTimeout time.Duration
}

// Obs holds the metrics registry, the readiness checks and the draining flag
// of one server. It is safe for concurrent use.
type Obs struct {
	log          *slog.Logger
	checkTimeout time.Duration
	reg          *prometheus.Registry

	requests      *prometheus.CounterVec
	bytes         *prometheus.CounterVec
	duration      *prometheus.HistogramVec
	registrations *prometheus.CounterVec
	inFlight      atomic.Int64

	draining atomic.Bool

	mu     sync.Mutex
	checks []check
	routes map[string]bool
}

// New returns an Obs whose private registry already holds the HTTP,
// registration, Go runtime and process metrics.
func New(opts Options) *Obs {
	o := &Obs{
		log:          opts.Log,
		checkTimeout: opts.CheckTimeout,
		reg:          prometheus.NewRegistry(),
		routes:       map[string]bool{},
	}
	if o.log == nil {
		o.log = slog.Default()
	}
	if o.checkTimeout <= 0 {
		o.checkTimeout = defaultCheckTimeout
	}
	o.requests = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "enmei_http_requests_total",
		Help: "HTTP requests served, by ServeMux route, method and status.",
	}, []string{"route", "method", "status"})
	o.bytes = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "enmei_http_response_bytes_total",
		Help: "Response body bytes written, by ServeMux route.",
	}, []string{"route"})
	o.duration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "enmei_http_request_duration_seconds",
		Help: "Time from request to the handler's return, by ServeMux route.",
		// Up to minutes: package downloads on slow links are long requests.
		Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600},
	}, []string{"route"})
	o.registrations = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "enmei_registrations_total",
		Help: "Host registrations, by result: new, reused or refused.",
	}, []string{"result"})
	// Start the known results at zero so rate() and alerts see them before
	// the first registration.
	for _, r := range []string{RegistrationNew, RegistrationReused, RegistrationRefused} {
		o.registrations.WithLabelValues(r)
	}
	inFlight := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "enmei_http_requests_in_flight",
		Help: "HTTP requests being served now.",
	}, func() float64 { return float64(o.inFlight.Load()) })
	o.reg.MustRegister(
		o.requests, o.bytes, o.duration, o.registrations, inFlight,
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	return o
}

// Registry returns the private registry, for collectors that need more than
// MustRegister (Register with error handling, Unregister).
func (o *Obs) Registry() *prometheus.Registry { return o.reg }

// MustRegister adds collectors to the private registry; it panics, like
// prometheus.Registry.MustRegister, on a duplicate or invalid collector, which
// is a programming error caught at start-up.
func (o *Obs) MustRegister(cs ...prometheus.Collector) { o.reg.MustRegister(cs...) }

// Registration counts one host registration. result should be
// RegistrationNew, RegistrationReused or RegistrationRefused; anything else
// is counted as "other" so a caller's typo cannot grow the label set.
func (o *Obs) Registration(result string) {
	switch result {
	case RegistrationNew, RegistrationReused, RegistrationRefused:
	default:
		result = "other"
	}
	o.registrations.WithLabelValues(result).Inc()
}

// MetricsHandler serves the private registry in the Prometheus exposition
// formats. A failing collector (say, the seats query) is logged and left
// out; the rest of the metrics are still served.
func (o *Obs) MetricsHandler() http.Handler {
	return promhttp.HandlerFor(o.reg, promhttp.HandlerOpts{
		ErrorLog:      promLogger{o.log},
		ErrorHandling: promhttp.ContinueOnError,
		// Counts collection errors as promhttp_metric_handler_errors_total,
		// so they can be alerted on and not only read in the log.
		Registry: o.reg,
		// Bounds a scrape even if a custom collector ignores its timeout.
		Timeout: 30 * time.Second,
	})
}

// SetDraining makes Readyz answer 503 from now on, so load balancers stop
// sending new requests; it cannot be undone.
func (o *Obs) SetDraining() { o.draining.Store(true) }

// Draining reports whether SetDraining was called.
func (o *Obs) Draining() bool { return o.draining.Load() }

// routeLabel caps the number of distinct route labels.
func (o *Obs) routeLabel(route string) string {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.routes[route] {
		return route
	}
	if len(o.routes) >= maxRoutes {
		return RouteOther
	}
	o.routes[route] = true
	return route
}

// promLogger adapts slog to promhttp's Println logger.
type promLogger struct{ log *slog.Logger }

func (l promLogger) Println(v ...any) {
	l.log.Warn("serving metrics", "err", fmt.Sprint(v...))
}
