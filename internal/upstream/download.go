package upstream

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/enmei-project/enmei/internal/errs"
	"github.com/enmei-project/enmei/internal/pkgfmt/rpm"
)

// Diff is what of md's packages a mirror does not hold yet: have is the set
// of package checksums (hex, as primary.xml gives them) the mirror holds.
// A package rebuilt upstream under the same name has a new checksum and is
// listed again. Each checksum is listed once. Diff reads nothing, so it
// also answers a dry run.
func Diff(have map[string]bool, md *Metadata) []Package {
	var want []Package
	seen := map[string]bool{}
	for _, p := range md.Packages {
		if have[p.Checksum] || seen[p.Checksum] {
			continue
		}
		seen[p.Checksum] = true
		want = append(want, p)
	}
	return want
}

// Result is what Download did, each list in the order the packages were
// given.
type Result struct {
	Downloaded []Package // fetched (or completed from a .part) and verified
	Skipped    []Package // already in place, verified again
	Refused    []Refusal // not good: wrong checksum or signature; no file is left
	Failed     []Failure // not fetched this time (network, server); the .part stays for the next run
	Bytes      int64     // transferred
}

// Refusal is a package Download will not keep, and why, in a phrase such as
// "checksum mismatch: upstream metadata says sha256 …, got …".
type Refusal struct {
	Package Package
	Reason  string
}

// Failure is a package whose transfer failed.
type Failure struct {
	Package Package
	Err     error
}

// EventKind is what happened to a package.
type EventKind int

// The events Download reports.
const (
	Started    EventKind = iota // a transfer begins; Offset > 0 when it continues a .part
	Downloaded                  // fetched and verified
	Skipped                     // already in place
	Refused                     // refused; Reason says why
	Failed                      // not fetched; Reason says why
)

// Event is one step of a Download, for a progress display. Events are
// delivered one at a time, from Download's goroutines.
type Event struct {
	Kind    EventKind
	Package Package
	Offset  int64  // Started: bytes already in the .part
	Reason  string // Refused, Failed
}

// Download fetches pkgs into dir, each at its Href below dir, and verifies
// it: size and checksum against the metadata and, when s.Keyring is set, the
// RPM header signature against the keyring. A file already in place that
// verifies is not fetched again; an interrupted transfer leaves
// <file>.part, which the next attempt continues with a Range request.
// Refused packages are named in the Result with their reason and their
// files removed; the others are still usable. The error is non-nil when a
// transfer failed (the Result's Failed say which; running again resumes
// them) or ctx ended. progress, if not nil, sees every step.
func (s *Source) Download(ctx context.Context, pkgs []Package, dir string, progress func(Event)) (Result, error) {
	base, err := s.base()
	if err != nil {
		return Result{}, err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return Result{}, fmt.Errorf("creating download directory: %w", err)
	}
	parallel := s.Parallel
	if parallel <= 0 {
		parallel = 4
	}
	type done struct {
		i int
		outcome
	}
	var (
		mu      sync.Mutex
		results []done
	)
	report := func(e Event) {
		if progress != nil {
			mu.Lock()
			defer mu.Unlock()
			progress(e)
		}
	}
	// Two entries for one file would race on it: the first one wins.
	seen := map[string]bool{}
	jobs := make(chan int)
	var wg sync.WaitGroup
	for range min(parallel, len(pkgs)) {
		wg.Go(func() {
			for i := range jobs {
				o := s.fetch(ctx, base, dir, pkgs[i], report)
				e := Event{Kind: o.kind, Package: pkgs[i], Reason: o.reason}
				if o.err != nil {
					e.Reason = o.err.Error()
				}
				report(e)
				mu.Lock()
				results = append(results, done{i, o})
				mu.Unlock()
			}
		})
	}
	for i, p := range pkgs {
		if seen[path.Clean(p.Href)] {
			continue
		}
		seen[path.Clean(p.Href)] = true
		select {
		case jobs <- i:
		case <-ctx.Done():
		}
		if ctx.Err() != nil {
			break
		}
	}
	close(jobs)
	wg.Wait()

	sort.Slice(results, func(a, b int) bool { return results[a].i < results[b].i })
	var res Result
	for _, d := range results {
		p := pkgs[d.i]
		res.Bytes += d.bytes
		switch d.kind {
		case Downloaded:
			res.Downloaded = append(res.Downloaded, p)
		case Skipped:
			res.Skipped = append(res.Skipped, p)
		case Refused:
			res.Refused = append(res.Refused, Refusal{p, d.reason})
		default:
			res.Failed = append(res.Failed, Failure{p, d.err})
		}
	}
	if err := ctx.Err(); err != nil {
		return res, err
	}
	if n := len(res.Failed); n > 0 {
		f := res.Failed[0]
		return res, errs.Wrap(errs.KindOf(f.Err), f.Err, fmt.Sprintf("%d of %d packages could not be downloaded, and a new run resumes them; the first, %s: %v", n, len(pkgs), f.Package.NEVRA(), f.Err))
	}
	return res, nil
}

// outcome is what fetch made of one package.
type outcome struct {
	kind   EventKind
	reason string // Refused
	err    error  // Failed
	bytes  int64
}

// retryWait is the pause before attempt n+1; a variable for tests.
var retryWait = func(n int) time.Duration { return time.Duration(n) * time.Second }

// fetch brings one package into dir and verifies it.
func (s *Source) fetch(ctx context.Context, base *url.URL, dir string, p Package, report func(Event)) outcome {
	refuse := func(format string, args ...any) outcome {
		return outcome{kind: Refused, reason: fmt.Sprintf(format, args...)}
	}
	local, err := localPath(p.Href)
	if err != nil {
		return refuse("unsafe location %q in the upstream metadata: it would leave the download directory", p.Href)
	}
	if _, err := newHash(p.ChecksumType); err != nil {
		return refuse("the upstream metadata gives it a %q checksum, which cannot be verified", p.ChecksumType)
	}
	src := base
	if p.Base != "" {
		if src, err = resolve(base, p.Base); err != nil {
			return refuse("unusable xml:base %q in the upstream metadata", p.Base)
		}
		if !strings.HasSuffix(src.Path, "/") {
			src.Path += "/"
		}
	}
	u, err := resolve(src, p.Href)
	if err != nil {
		return refuse("unusable location %q in the upstream metadata", p.Href)
	}
	final := filepath.Join(dir, local)
	part := final + ".part"
	if err := os.MkdirAll(filepath.Dir(final), 0o755); err != nil {
		return outcome{kind: Failed, err: fmt.Errorf("creating %s: %w", filepath.Dir(final), err)}
	}

	// A file already in place is kept when it is this package; else it is
	// an older build under the same name and is replaced.
	if st, err := os.Stat(final); err == nil && st.Mode().IsRegular() && st.Size() == p.Size {
		v, err := s.check(final, p)
		switch {
		case err != nil:
			return outcome{kind: Failed, err: err}
		case v.sumMismatch == "" && v.refusal == "":
			os.Remove(part) // left by an older, interrupted run
			return outcome{kind: Skipped}
		case v.sumMismatch == "":
			os.Remove(final)
			os.Remove(part)
			return refuse("%s", v.refusal)
		}
	}

	attempts := s.Attempts
	if attempts <= 0 {
		attempts = 3
	}
	var total int64
	restarted := false
	// A refused package leaves no file, not even an older build's.
	refused := func(reason string) outcome {
		os.Remove(part)
		os.Remove(final)
		return outcome{kind: Refused, reason: reason, bytes: total}
	}
	for a := 1; ; a++ {
		n, resumed, err := s.transfer(ctx, u, part, p, report)
		total += n
		if err == nil {
			v, err := s.check(part, p)
			switch {
			case err != nil:
				return outcome{kind: Failed, err: err, bytes: total}
			case v.sumMismatch != "" && resumed && !restarted:
				// The .part may be of an older build under the same name:
				// fetch the whole file once before blaming the upstream.
				os.Remove(part)
				restarted = true
				a--
				continue
			case v.sumMismatch != "":
				return refused(v.sumMismatch)
			case v.refusal != "":
				return refused(v.refusal)
			}
			if err := os.Rename(part, final); err != nil {
				return outcome{kind: Failed, err: fmt.Errorf("moving %s into place: %w", local, err), bytes: total}
			}
			return outcome{kind: Downloaded, bytes: total}
		}
		var refusal refusalError
		if errors.As(err, &refusal) {
			return refused(refusal.reason)
		}
		var se *statusError
		if ctx.Err() != nil || a >= attempts || (errors.As(err, &se) && !se.retry) {
			return outcome{kind: Failed, err: err, bytes: total}
		}
		select {
		case <-time.After(retryWait(a)):
		case <-ctx.Done():
			return outcome{kind: Failed, err: ctx.Err(), bytes: total}
		}
	}
}

// refusalError ends a transfer whose bytes already show the package is not
// the one the metadata describes.
type refusalError struct{ reason string }

func (e refusalError) Error() string { return e.reason }

// transfer brings part up to p.Size bytes, continuing what it holds with a
// Range request. It returns the bytes transferred and whether it continued
// an earlier transfer.
func (s *Source) transfer(ctx context.Context, u *url.URL, part string, p Package, report func(Event)) (n int64, resumed bool, err error) {
	var offset int64
	if st, err := os.Stat(part); err == nil {
		offset = st.Size()
	}
	if offset > p.Size {
		offset = 0 // not this file's beginning
	}
	if offset == p.Size {
		return 0, true, nil
	}
	report(Event{Kind: Started, Package: p, Offset: offset})
	w := newStallWatch(ctx)
	defer w.stop()
	resp, err := s.get(w.ctx, u, offset)
	if err != nil {
		return 0, false, err
	}
	defer resp.Body.Close()
	flags := os.O_WRONLY | os.O_CREATE | os.O_TRUNC
	switch {
	case offset > 0 && resp.StatusCode == http.StatusPartialContent && rangeStart(resp.Header.Get("Content-Range")) == offset:
		flags = os.O_WRONLY | os.O_APPEND
		resumed = true
	case resp.StatusCode == http.StatusOK:
		offset = 0 // the server ignored the Range: start over
	case resp.StatusCode == http.StatusRequestedRangeNotSatisfiable || resp.StatusCode == http.StatusPartialContent:
		// The server cannot continue the .part where it ends (it is no
		// prefix of the file, or the range came back wrong): the next
		// attempt starts over.
		os.Remove(part)
		return 0, false, &statusError{url: u, status: resp.Status, retry: true,
			err: errs.E(errs.Unavailable, "the upstream server could not continue %s (%s)", u.Redacted(), resp.Status)}
	default:
		return 0, false, &statusError{url: u, status: resp.Status, retry: true,
			err: errs.E(errs.Unavailable, "the upstream server answered %s for %s: try again later or use another mirror", resp.Status, u.Redacted())}
	}
	f, err := os.OpenFile(part, flags, 0o644)
	if err != nil {
		return 0, resumed, fmt.Errorf("writing %s: %w", part, err)
	}
	want := p.Size - offset
	// One byte more than expected is enough to tell the file is too long.
	n, err = io.Copy(f, io.LimitReader(w.reader(resp.Body), want+1))
	if cerr := f.Close(); err == nil && cerr != nil {
		return n, resumed, fmt.Errorf("writing %s: %w", part, cerr)
	}
	if err != nil {
		var pe *fs.PathError
		if errors.As(err, &pe) {
			return n, resumed, fmt.Errorf("writing %s: %w", part, err)
		}
		return n, resumed, w.err(u, s.unreachable(w.ctx, u, err))
	}
	switch {
	case n > want:
		return n, resumed, refusalError{fmt.Sprintf("size mismatch: upstream metadata says %d bytes, the server sent more", p.Size)}
	case n < want:
		return n, resumed, errs.E(errs.Unavailable, "the transfer of %s ended after %d of %d bytes: run the sync again to resume it", u.Redacted(), offset+n, p.Size)
	}
	return n, resumed, nil
}

// rangeStart is the first byte of a "bytes START-END/TOTAL" Content-Range,
// or -1.
func rangeStart(cr string) int64 {
	rest, ok := strings.CutPrefix(cr, "bytes ")
	if !ok {
		return -1
	}
	start, _, ok := strings.Cut(rest, "-")
	if !ok {
		return -1
	}
	n, err := strconv.ParseInt(start, 10, 64)
	if err != nil {
		return -1
	}
	return n
}

// verdict is what check found wrong with a file; both empty when it is good.
type verdict struct {
	sumMismatch string // the bytes are not the package the metadata describes
	refusal     string // they are, but it is not acceptable (signature)
}

// check verifies a complete file in one pass: its size and checksum against
// the metadata, and with a keyring its header signature. The error is for
// a file that cannot be read.
func (s *Source) check(file string, p Package) (verdict, error) {
	f, err := os.Open(file)
	if err != nil {
		return verdict{}, fmt.Errorf("checking %s: %w", file, err)
	}
	defer f.Close()
	h, _ := newHash(p.ChecksumType)
	counted := &countWriter{}
	r := io.TeeReader(f, io.MultiWriter(h, counted))
	var sigErr error
	if s.Keyring != nil {
		sh, err := rpm.ReadSigned(r)
		switch {
		case errors.Is(err, rpm.ErrInvalid):
			sigErr = fmt.Errorf("not a valid RPM package: %s", strings.TrimPrefix(err.Error(), rpm.ErrInvalid.Error()+": "))
		case err != nil:
			return verdict{}, fmt.Errorf("checking %s: %w", file, err)
		default:
			sigErr = verifyPackage(s.Keyring, sh)
		}
	}
	if _, err := io.Copy(io.Discard, r); err != nil {
		return verdict{}, fmt.Errorf("checking %s: %w", file, err)
	}
	if counted.n != p.Size {
		return verdict{sumMismatch: fmt.Sprintf("size mismatch: upstream metadata says %d bytes, got %d", p.Size, counted.n)}, nil
	}
	if got := hex.EncodeToString(h.Sum(nil)); got != p.Checksum {
		return verdict{sumMismatch: fmt.Sprintf("checksum mismatch: upstream metadata says %s %s, got %s", p.ChecksumType, p.Checksum, got)}, nil
	}
	if sigErr != nil {
		return verdict{refusal: sigErr.Error()}, nil
	}
	return verdict{}, nil
}

// localPath is href as a path below the download directory, refused when
// it is absolute or climbs out with "..".
func localPath(href string) (string, error) {
	if href == "" || strings.Contains(href, "\\") || strings.Contains(href, "\x00") {
		return "", errors.New("unsafe location")
	}
	clean := path.Clean(href)
	if path.IsAbs(clean) || clean == "." || clean == ".." || strings.HasPrefix(clean, "../") {
		return "", errors.New("unsafe location")
	}
	for _, seg := range strings.Split(href, "/") {
		if seg == ".." {
			return "", errors.New("unsafe location")
		}
	}
	local, err := filepath.Localize(clean)
	if err != nil || !filepath.IsLocal(local) {
		return "", errors.New("unsafe location")
	}
	return local, nil
}
