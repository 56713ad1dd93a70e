package obs

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"sync"
	"time"
)

// reqInfo is the mutable per-request holder the middleware puts in the
// context: handlers run below the ServeMux, on requests the middleware never
// sees, so they report back through it.
type reqInfo struct {
	mu     sync.Mutex
	route  string
	hostID string
}

type reqInfoKey struct{}

func infoFrom(ctx context.Context) *reqInfo {
	ri, _ := ctx.Value(reqInfoKey{}).(*reqInfo)
	return ri
}

// SetHostID records the authenticated host's ID for the access log of the
// request whose context is ctx. Handlers call it after authenticating; it
// does nothing outside Middleware.
func SetHostID(ctx context.Context, id string) {
	if ri := infoFrom(ctx); ri != nil {
		ri.mu.Lock()
		ri.hostID = id
		ri.mu.Unlock()
	}
}

// SetRoute overrides the route label of the request whose context is ctx. It
// is needed only when the matched pattern cannot reach Middleware on its own
// (see Middleware); route must come from a fixed set, never from the request.
// It does nothing outside Middleware.
func SetRoute(ctx context.Context, route string) {
	if ri := infoFrom(ctx); ri != nil {
		ri.mu.Lock()
		ri.route = route
		ri.mu.Unlock()
	}
}

// Router is implemented by *http.ServeMux: Handler reports the pattern a
// request will match without serving it.
type Router interface {
	Handler(r *http.Request) (h http.Handler, pattern string)
}

// Middleware logs one "request" record at Info and records the HTTP metrics
// for every request next serves.
//
// The route label is, in order: what a handler passed to SetRoute; else, if
// next is another Router than *http.ServeMux, the pattern its Handler method
// reports, looked up before serving; else the Pattern that a ServeMux set on
// this same *http.Request while serving it (net/http does so on the request
// it is given); else RouteUnmatched.
func (o *Obs) Middleware(next http.Handler) http.Handler {
	router, _ := next.(Router)
	if _, ok := next.(*http.ServeMux); ok {
		// A ServeMux sets Pattern on the very request it is given, so
		// looking it up before serving would route every request twice.
		router = nil
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		var looked string
		if router != nil {
			_, looked = router.Handler(r)
		}
		ri := &reqInfo{}
		r = r.WithContext(context.WithValue(r.Context(), reqInfoKey{}, ri))
		rw := &responseWriter{ResponseWriter: w}
		o.inFlight.Add(1)
		panicked := true
		defer func() {
			o.inFlight.Add(-1)
			status := rw.status
			if !rw.wroteHeader {
				status = http.StatusOK
				if panicked {
					// net/http aborts the connection; count it as the
					// server error it is.
					status = http.StatusInternalServerError
				}
			}
			ri.mu.Lock()
			route, hostID := ri.route, ri.hostID
			ri.mu.Unlock()
			if route == "" {
				route = looked
			}
			if route == "" {
				route = r.Pattern
			}
			if route == "" {
				route = RouteUnmatched
			}
			route = o.routeLabel(route)
			d := time.Since(start)
			method := methodLabel(r.Method)
			o.requests.WithLabelValues(route, method, strconv.Itoa(status)).Inc()
			o.bytes.WithLabelValues(route).Add(float64(rw.bytes))
			o.duration.WithLabelValues(route).Observe(d.Seconds())
			attrs := []slog.Attr{
				slog.String("method", r.Method),
				slog.String("route", route),
				slog.String("path", r.URL.Path),
				slog.Int("status", status),
				slog.Int64("bytes", rw.bytes),
				slog.Duration("duration", d),
				slog.String("remote", r.RemoteAddr),
			}
			if hostID != "" {
				attrs = append(attrs, slog.String("host", hostID))
			}
			o.log.LogAttrs(context.WithoutCancel(r.Context()), slog.LevelInfo, "request", attrs...)
		}()
		next.ServeHTTP(rw, r)
		panicked = false
	})
}

// methodLabel keeps the method label to the standard methods: the method is
// chosen by the client, and any token is valid HTTP.
func methodLabel(m string) string {
	switch m {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch,
		http.MethodDelete, http.MethodOptions, http.MethodConnect, http.MethodTrace:
		return m
	}
	return "OTHER"
}

// responseWriter records the status and the body size. It implements
// io.ReaderFrom so that http.ServeContent's io.Copy still reaches the
// connection's ReadFrom (sendfile), Unwrap for http.ResponseController, and
// http.Flusher for streaming.
type responseWriter struct {
	http.ResponseWriter
	status      int
	wroteHeader bool
	bytes       int64
}

func (w *responseWriter) WriteHeader(code int) {
	// 1xx other than 101 are informational and followed by the real status.
	if !w.wroteHeader && (code >= 200 || code == http.StatusSwitchingProtocols) {
		w.status = code
		w.wroteHeader = true
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *responseWriter) implicitHeader() {
	if !w.wroteHeader {
		w.status = http.StatusOK
		w.wroteHeader = true
	}
}

func (w *responseWriter) Write(b []byte) (int, error) {
	w.implicitHeader()
	n, err := w.ResponseWriter.Write(b)
	w.bytes += int64(n)
	return n, err
}

// ReadFrom delegates to the underlying writer's ReadFrom when it has one.
func (w *responseWriter) ReadFrom(src io.Reader) (int64, error) {
	w.implicitHeader()
	var n int64
	var err error
	if rf, ok := w.ResponseWriter.(io.ReaderFrom); ok {
		n, err = rf.ReadFrom(src)
	} else {
		// The underlying writer has no ReadFrom, so io.Copy cannot loop
		// back here.
		n, err = io.Copy(w.ResponseWriter, src)
	}
	w.bytes += n
	return n, err
}

// Flush sends buffered data to the client, through any wrappers below.
func (w *responseWriter) Flush() {
	// http.Flusher has no error to return; a writer that cannot flush
	// leaves nothing useful to do.
	_ = w.FlushError()
}

// FlushError is Flush with its error; http.ResponseController prefers it.
func (w *responseWriter) FlushError() error {
	w.implicitHeader()
	return http.NewResponseController(w.ResponseWriter).Flush()
}

// Unwrap returns the wrapped writer, for http.ResponseController.
func (w *responseWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
