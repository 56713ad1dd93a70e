package obs

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// SeatCount is the use of one contract's seats for one product.
type SeatCount struct {
	SupportID string
	Product   string
	Used      int
	Quantity  int
}

// SeatsCollector is a prometheus.Collector emitting enmei_seats_used and
// enmei_seats_quantity gauges, labelled support_id and product, from a
// function called at scrape time. The function gets a context with a
// timeout, and its result (an error too) is reused for a TTL, so a scrape
// storm or several Prometheus replicas cost one query per TTL; concurrent
// scrapes wait for the query in progress instead of starting their own.
type SeatsCollector struct {
	fetch   func(context.Context) ([]SeatCount, error)
	timeout time.Duration
	ttl     time.Duration
	now     func() time.Time

	used, quantity *prometheus.Desc

	mu     sync.Mutex
	seats  []SeatCount
	err    error
	at     time.Time
	cached bool
}

// NewSeatsCollector returns a collector calling fetch at most once per ttl
// (0: 5s), each call limited to timeout (0: 5s); fetch must honour its
// context. Rows repeating a (SupportID, Product) pair are summed, because a
// duplicate series would fail the whole scrape. Register it with
// Obs.MustRegister. When fetch fails the scrape reports the error (logged by
// MetricsHandler, counted in promhttp_metric_handler_errors_total) and the
// seat gauges are absent from it rather than stale.
func NewSeatsCollector(fetch func(context.Context) ([]SeatCount, error), timeout, ttl time.Duration) *SeatsCollector {
	if timeout <= 0 {
		timeout = 5 * time.Second
	}
	if ttl <= 0 {
		ttl = 5 * time.Second
	}
	return &SeatsCollector{
		fetch:   fetch,
		timeout: timeout,
		ttl:     ttl,
		now:     time.Now,
		used: prometheus.NewDesc("enmei_seats_used",
			"Seats in use (registered hosts) per contract and product.",
			[]string{"support_id", "product"}, nil),
		quantity: prometheus.NewDesc("enmei_seats_quantity",
			"Seats bought per contract and product.",
			[]string{"support_id", "product"}, nil),
	}
}

// Describe implements prometheus.Collector.
func (c *SeatsCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.used
	ch <- c.quantity
}

// Collect implements prometheus.Collector.
func (c *SeatsCollector) Collect(ch chan<- prometheus.Metric) {
	seats, err := c.get()
	if err != nil {
		ch <- prometheus.NewInvalidMetric(c.used, err)
		return
	}
	for _, s := range seats {
		ch <- prometheus.MustNewConstMetric(c.used, prometheus.GaugeValue, float64(s.Used), s.SupportID, s.Product)
		ch <- prometheus.MustNewConstMetric(c.quantity, prometheus.GaugeValue, float64(s.Quantity), s.SupportID, s.Product)
	}
}

func (c *SeatsCollector) get() ([]SeatCount, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.cached && c.now().Sub(c.at) < c.ttl {
		return c.seats, c.err
	}
	ctx, cancel := context.WithTimeout(context.Background(), c.timeout)
	defer cancel()
	seats, err := c.fetch(ctx)
	if err != nil {
		err = fmt.Errorf("counting seats: %w", err)
		seats = nil
	}
	seats = merge(seats)
	c.seats, c.err, c.at, c.cached = seats, err, c.now(), true
	return seats, err
}

// merge sums rows with the same (SupportID, Product), keeping first-seen order.
func merge(seats []SeatCount) []SeatCount {
	type key struct{ id, product string }
	idx := make(map[key]int, len(seats))
	out := seats[:0:0]
	for _, s := range seats {
		k := key{s.SupportID, s.Product}
		if i, ok := idx[k]; ok {
			out[i].Used += s.Used
			out[i].Quantity += s.Quantity
			continue
		}
		idx[k] = len(out)
		out = append(out, s)
	}
	return out
}
