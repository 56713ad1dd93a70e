package obs

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"
)

// ErrForcedClose is wrapped by Serve's error when requests were still
// running at the end of the limit and their connections were closed. Callers
// for whom that is a routine stop can test for it with errors.Is.
var ErrForcedClose = errors.New("requests still running at the stop limit were cut")

// ErrStopNow, as the cause of Serve's context (context.WithCancelCause),
// skips the drain time: an operator's Ctrl-C, not a load balancer's stop.
var ErrStopNow = errors.New("stop without draining")

// Serve serves hs on ln (with TLS when hs.TLSConfig is set; its certificates
// must be in it) until ctx ends, then stops in three steps: it calls
// o.SetDraining so Readyz answers 503, and turns off keep-alives so clients
// reconnect through the load balancer; it keeps serving for drain (0: no
// wait) so the load balancer notices; then it stops accepting and waits up to
// limit for running requests, such as downloads, to finish (limit <= 0: no
// wait), and closes the connections of any that have not.
//
// Serve returns nil after a stop in which every request finished, an error
// wrapping ErrForcedClose when some had to be cut, and the server's error if
// it fails before ctx ends. o and log may be nil.
func Serve(ctx context.Context, hs *http.Server, ln net.Listener, o *Obs, drain, limit time.Duration, log *slog.Logger) error {
	if log == nil {
		log = slog.Default()
		if o != nil {
			log = o.log
		}
	}
	errc := make(chan error, 1)
	go func() {
		if hs.TLSConfig != nil {
			errc <- hs.ServeTLS(ln, "", "")
		} else {
			errc <- hs.Serve(ln)
		}
	}()
	select {
	case err := <-errc:
		return serveErr(ln, err)
	case <-ctx.Done():
	}

	if o != nil {
		o.SetDraining()
	}
	if errors.Is(context.Cause(ctx), ErrStopNow) {
		drain = 0
	}
	hs.SetKeepAlivesEnabled(false)
	if drain > 0 {
		log.Info("stopping: draining, readiness now fails", "drain", drain)
		t := time.NewTimer(drain)
		select {
		case <-t.C:
		case err := <-errc:
			t.Stop()
			return serveErr(ln, err)
		}
	}

	log.Info("stopping: waiting for requests in flight", "limit", limit)
	sctx, cancel := context.WithTimeout(context.Background(), max(limit, 0))
	defer cancel()
	err := hs.Shutdown(sctx)
	if err == nil {
		<-errc // http.ErrServerClosed, at once after Shutdown
		return nil
	}
	attrs := []any{"limit", limit}
	if o != nil {
		attrs = append(attrs, "running", o.inFlight.Load())
	}
	// Shutdown only gives up waiting; Close cuts the connections.
	if cerr := hs.Close(); cerr != nil {
		log.Warn("closing connections", "err", cerr)
	}
	<-errc
	if errors.Is(err, context.DeadlineExceeded) {
		log.Warn("stopping: requests still running at the limit were cut", attrs...)
		return fmt.Errorf("stopping after %s: %w", limit, ErrForcedClose)
	}
	return fmt.Errorf("stopping: %w", err)
}

func serveErr(ln net.Listener, err error) error {
	if errors.Is(err, http.ErrServerClosed) {
		// Someone else called Shutdown or Close: a normal stop.
		return nil
	}
	return fmt.Errorf("serving on %s: %w", ln.Addr(), err)
}
