package apt

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/enmei-project/enmei/internal/errs"
)

// stallTimeout gives up on a transfer that received nothing for this long;
// the .part file is kept for the next run.
const stallTimeout = 2 * time.Minute

// defaultParallel is how many files are fetched at once by default: enough
// to hide latency, few enough not to hammer a community mirror.
const defaultParallel = 4

// EventKind says how one file of a download was settled.
type EventKind int

// The ways a file is settled.
const (
	EventDownloaded EventKind = iota + 1 // fetched and verified
	EventSkipped                         // already present and intact
	EventRefused                         // not downloaded; see Reason
)

// Event reports one settled file. Events come one at a time, in no
// particular order.
type Event struct {
	Kind    EventKind
	Package string // "hello 2.10-3 amd64" or "hello 2.10-3 (source)"
	Path    string // relative to the download directory, slash-separated
	Size    int64  // of the whole file
	Bytes   int64  // received over the network for it in this run
	Resumed bool   // continued the .part an interrupted run left
	Reason  string // why it was refused: a sentence saying what to do
}

// File is one file a download settled.
type File struct {
	Package string
	Path    string // relative to the download directory, slash-separated
	Size    int64
	SHA256  string
}

// Refusal is a file that was not downloaded.
type Refusal struct {
	Package, Path string
	// Reason is a sentence saying what happened and what to do.
	Reason string
	// Kind is errs.Invalid when the file or its listing is wrong (a
	// checksum mismatch, an unsafe path), errs.Unavailable or errs.NotFound
	// when the mirror could not deliver it (running again may help).
	Kind errs.Kind
}

// Result is what a download did, each list sorted by path.
type Result struct {
	Downloaded []File
	Skipped    []File
	Refused    []Refusal
	Bytes      int64 // received over the network
}

// Download fetches the packages' files from the source into
// dir/<Filename>, Parallel at a time. A file is written to <path>.part
// and renamed into place only once its size and SHA256 match the package's
// (so dir never holds an unverified file); a .part an interrupted run left
// is continued with an HTTP Range request. A file already in dir with the
// right size and SHA256 is not fetched again; one that differs is replaced.
// A file whose bytes do not match is deleted and refused, naming the
// package; the others are still downloaded. The error is non-nil when any
// file was refused (Result says which) or the run stopped: ctx was
// cancelled, or dir could not be written.
//
// The sums are those of pkgs, which Metadata took from the signed indexes:
// that is the last link of the chain of trust. Two downloads must not
// share a dir at the same time.
func (s *Source) Download(ctx context.Context, pkgs []Package, dir string, progress func(Event)) (Result, error) {
	files := make([]File, 0, len(pkgs))
	for _, p := range pkgs {
		files = append(files, File{Package: p.String(), Path: p.Filename, Size: p.Size, SHA256: p.SHA256})
	}
	return s.download(ctx, files, dir, progress)
}

// DownloadSources is Download for source packages: each file of each
// package (the .dsc and its tarballs) goes to dir/<Directory>/<name>,
// checked against its Checksums-Sha256. A tarball shared by two versions
// is fetched once.
func (s *Source) DownloadSources(ctx context.Context, srcs []SourcePackage, dir string, progress func(Event)) (Result, error) {
	var files []File
	for _, sp := range srcs {
		for _, f := range sp.Files {
			files = append(files, File{Package: sp.String(), Path: sp.Directory + "/" + f.Name, Size: f.Size, SHA256: f.SHA256})
		}
	}
	return s.download(ctx, files, dir, progress)
}

// safePath reports whether p, a path from an index, stays inside the
// download directory and cannot be taken for one of its .part files.
func safePath(p string) bool {
	return p != "" && !path.IsAbs(p) && path.Clean(p) == p && p != "." && p != ".." &&
		!strings.HasPrefix(p, "../") && !strings.ContainsAny(p, "\\\x00") && !strings.HasSuffix(p, ".part")
}

func (s *Source) download(ctx context.Context, files []File, dir string, progress func(Event)) (Result, error) {
	var res Result
	base, err := s.base()
	if err != nil {
		return res, err
	}
	if dir == "" {
		return res, errs.E(errs.Invalid, "no download directory was given: name the directory the mirror keeps its files in")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return res, fmt.Errorf("creating the download directory: %w", err)
	}
	var mu sync.Mutex
	settle := func(ev Event, f File, kind errs.Kind) {
		mu.Lock()
		defer mu.Unlock()
		res.Bytes += ev.Bytes
		switch ev.Kind {
		case EventDownloaded:
			res.Downloaded = append(res.Downloaded, f)
		case EventSkipped:
			res.Skipped = append(res.Skipped, f)
		case EventRefused:
			res.Refused = append(res.Refused, Refusal{Package: f.Package, Path: f.Path, Reason: ev.Reason, Kind: kind})
		}
		if progress != nil {
			progress(ev)
		}
	}
	refuse := func(f File, kind errs.Kind, format string, args ...any) {
		settle(Event{Kind: EventRefused, Package: f.Package, Path: f.Path, Size: f.Size, Reason: fmt.Sprintf(format, args...)}, f, kind)
	}

	// Check paths and sums before anything is written, and fetch a path
	// listed twice (an orig tarball of two versions) once.
	byPath := map[string]File{}
	var work []File
	for _, f := range files {
		f.SHA256 = strings.ToLower(f.SHA256)
		switch prev, dup := byPath[f.Path]; {
		case !safePath(f.Path):
			refuse(f, errs.Invalid, "the index gives %s the file name %q, which would be written outside the mirror directory: the index is malformed or hostile; report it to the repository", f.Package, f.Path)
		case !isSHA256(f.SHA256) || f.Size < 0:
			refuse(f, errs.Invalid, "%s of %s has no valid size and SHA256 to check it against: take the package from Metadata, which reads them from the signed index", f.Path, f.Package)
		case dup && (prev.SHA256 != f.SHA256 || prev.Size != f.Size):
			refuse(f, errs.Invalid, "%s is listed for %s and %s with different sums: the indexes are inconsistent; try again later", f.Path, prev.Package, f.Package)
		case dup:
		default:
			byPath[f.Path] = f
			work = append(work, f)
		}
	}

	par := s.Parallel
	if par <= 0 {
		par = defaultParallel
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		fatalOnce sync.Once
		fatal     error
	)
	g := s.getter()
	ch := make(chan File)
	var wg sync.WaitGroup
	for range min(par, max(len(work), 1)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for f := range ch {
				ev, kind, err := s.fetchFile(ctx, g, fileURL(base, f.Path), dir, f)
				if err != nil {
					fatalOnce.Do(func() { fatal = err; cancel() })
					continue
				}
				settle(ev, f, kind)
			}
		}()
	}
feed:
	for _, f := range work {
		select {
		case ch <- f:
		case <-ctx.Done():
			break feed
		}
	}
	close(ch)
	wg.Wait()

	for _, l := range [][]File{res.Downloaded, res.Skipped} {
		sort.Slice(l, func(i, j int) bool { return l[i].Path < l[j].Path })
	}
	sort.Slice(res.Refused, func(i, j int) bool { return res.Refused[i].Path < res.Refused[j].Path })
	if fatal != nil {
		return res, fatal
	}
	if err := ctx.Err(); err != nil {
		return res, err
	}
	if n := len(res.Refused); n > 0 {
		kind := errs.Unavailable
		for _, r := range res.Refused {
			if r.Kind == errs.Invalid {
				kind = errs.Invalid
			}
		}
		first := res.Refused[0]
		return res, errs.E(kind, "%d of %d files were not downloaded; the first: %s", n, len(files), first.Reason)
	}
	return res, nil
}

// fetchFile settles one file. Its error is for what stops the whole
// download (ctx cancelled, the directory not writable); a file that cannot
// be had is an EventRefused.
func (s *Source) fetchFile(ctx context.Context, g Getter, rawURL, dir string, f File) (Event, errs.Kind, error) {
	ev := Event{Package: f.Package, Path: f.Path, Size: f.Size}
	dest := filepath.Join(dir, filepath.FromSlash(f.Path))
	exists, ok, err := intact(dest, f)
	if err != nil {
		return ev, 0, err
	}
	if ok {
		ev.Kind = EventSkipped
		return ev, 0, nil
	}
	if exists {
		// A stale or damaged copy: the signed index says otherwise.
		if err := os.Remove(dest); err != nil {
			return ev, 0, fmt.Errorf("removing the mismatching %s: %w", dest, err)
		}
	}
	if err := os.MkdirAll(filepath.Dir(dest), 0o755); err != nil {
		return ev, 0, fmt.Errorf("creating the directory of %s: %w", f.Path, err)
	}
	// A resumed transfer that does not verify may have continued a file
	// that changed upstream since: it is fetched once more from the start.
	for attempt := 0; ; attempt++ {
		out, err := s.fetchPart(ctx, g, rawURL, dest, f)
		ev.Bytes += out.bytes
		ev.Resumed = ev.Resumed || out.resumed
		switch {
		case err != nil:
			return ev, 0, err
		case out.restart && attempt == 0:
			continue
		case out.reason != "":
			ev.Kind, ev.Reason = EventRefused, out.reason
			return ev, out.kind, nil
		case out.restart:
			ev.Kind, ev.Reason = EventRefused, fmt.Sprintf("the mirror did not deliver %s of %s consistently when resumed: try again later or use another mirror", f.Path, f.Package)
			return ev, errs.Unavailable, nil
		}
		ev.Kind = EventDownloaded
		return ev, 0, nil
	}
}

// intact reports whether path exists, and whether it has f's size and
// SHA256.
func intact(p string, f File) (exists, ok bool, err error) {
	fi, err := os.Lstat(p)
	if errors.Is(err, os.ErrNotExist) {
		return false, false, nil
	}
	if err != nil {
		return false, false, fmt.Errorf("checking %s: %w", p, err)
	}
	if !fi.Mode().IsRegular() || fi.Size() != f.Size {
		return true, false, nil
	}
	file, err := os.Open(p)
	if err != nil {
		return true, false, fmt.Errorf("checking %s: %w", p, err)
	}
	defer file.Close()
	h := sha256.New()
	if _, err := io.Copy(h, file); err != nil {
		return true, false, fmt.Errorf("checking %s: %w", p, err)
	}
	return true, hex.EncodeToString(h.Sum(nil)) == f.SHA256, nil
}

// partOutcome is one attempt at a file.
type partOutcome struct {
	bytes   int64 // received
	resumed bool
	restart bool // the .part was discarded: try once more from the start
	reason  string
	kind    errs.Kind
}

// fetchPart fetches f into dest+".part", continuing what is there, and on
// success renames it to dest.
func (s *Source) fetchPart(ctx context.Context, g Getter, rawURL, dest string, f File) (out partOutcome, err error) {
	partName := dest + ".part"
	part, err := os.OpenFile(partName, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return out, fmt.Errorf("writing %s: %w", f.Path, err)
	}
	defer func() {
		if part != nil {
			part.Close()
		}
	}()
	discard := func() error {
		if err := part.Truncate(0); err != nil {
			return fmt.Errorf("writing %s: %w", f.Path, err)
		}
		return nil
	}
	refuse := func(kind errs.Kind, format string, args ...any) (partOutcome, error) {
		out.kind, out.reason = kind, fmt.Sprintf(format, args...)
		return out, nil
	}
	mismatch := func() (partOutcome, error) {
		part.Close()
		part = nil
		if err := os.Remove(partName); err != nil {
			return out, fmt.Errorf("removing the mismatching %s: %w", partName, err)
		}
		if out.resumed {
			out.restart = true
			return out, nil
		}
		return refuse(errs.Invalid, "%s of %s does not match the size and SHA256 its signed index gives: the mirror serves a damaged or altered file, which was deleted; try again later or use another mirror", f.Path, f.Package)
	}

	// Hash what an earlier run left, then ask for the rest.
	h := sha256.New()
	off, err := io.Copy(h, io.LimitReader(part, f.Size+1))
	if err != nil {
		return out, fmt.Errorf("reading %s: %w", partName, err)
	}
	if off > f.Size {
		if err := discard(); err != nil {
			return out, err
		}
		off, h = 0, sha256.New()
	}
	out.resumed = off > 0
	if off < f.Size || f.Size == 0 {
		header := requestHeader()
		if off > 0 {
			header.Set("Range", "bytes="+strconv.FormatInt(off, 10)+"-")
		}
		reqCtx, cancel := context.WithCancel(ctx)
		defer cancel()
		var stalled atomic.Bool
		timer := time.AfterFunc(stallTimeout, func() { stalled.Store(true); cancel() })
		defer timer.Stop()
		resp, err := g.Get(reqCtx, rawURL, header)
		if err != nil {
			if ctx.Err() != nil {
				return out, ctx.Err()
			}
			return refuse(errs.Unavailable, "cannot fetch %s of %s from %s: %v: check the network and the proxy, then run again", f.Path, f.Package, redact(rawURL), err)
		}
		defer resp.Body.Close()
		switch c := resp.StatusCode; {
		case c == http.StatusPartialContent && off > 0:
			if start, ok := rangeStart(resp.Header.Get("Content-Range")); !ok || start != off {
				if err := discard(); err != nil {
					return out, err
				}
				out.restart = true
				return out, nil
			}
		case c == http.StatusOK:
			if off > 0 { // the server ignored the range: start over
				if err := discard(); err != nil {
					return out, err
				}
				off, h, out.resumed = 0, sha256.New(), false
			}
		case c == http.StatusRequestedRangeNotSatisfiable:
			if err := discard(); err != nil {
				return out, err
			}
			out.restart = true
			return out, nil
		case c == http.StatusNotFound || c == http.StatusGone:
			return refuse(errs.NotFound, "the mirror has no %s of %s (HTTP %d), though the index lists it: it is incomplete or in the middle of an update; try again later", f.Path, f.Package, c)
		default:
			serr := statusErr(rawURL, resp)
			return refuse(errs.KindOf(serr), "%s of %s: %s", f.Path, f.Package, serr.Error())
		}
		if _, err := part.Seek(off, io.SeekStart); err != nil {
			return out, fmt.Errorf("writing %s: %w", partName, err)
		}
		body := &progressReader{r: resp.Body, timer: timer}
		n, err := io.Copy(io.MultiWriter(fileWriter{part}, h), io.LimitReader(body, f.Size-off+1))
		out.bytes = n
		off += n
		if err != nil {
			var we *writeError
			switch {
			case errors.As(err, &we):
				return out, fmt.Errorf("writing %s: %w", partName, we.err)
			case ctx.Err() != nil:
				return out, ctx.Err()
			case stalled.Load():
				err = fmt.Errorf("nothing arrived for %s", stallTimeout)
			}
			return refuse(errs.Unavailable, "the download of %s of %s broke off after %d of %d bytes (%v): run again to resume it", f.Path, f.Package, off, f.Size, err)
		}
		if off < f.Size {
			return refuse(errs.Unavailable, "the download of %s of %s ended after %d of %d bytes: run again to resume it", f.Path, f.Package, off, f.Size)
		}
	}
	if off != f.Size || hex.EncodeToString(h.Sum(nil)) != f.SHA256 {
		return mismatch()
	}
	if err := part.Sync(); err != nil {
		return out, fmt.Errorf("writing %s: %w", partName, err)
	}
	if err := part.Close(); err != nil {
		part = nil
		return out, fmt.Errorf("writing %s: %w", partName, err)
	}
	part = nil
	if err := os.Rename(partName, dest); err != nil {
		return out, fmt.Errorf("moving %s into place: %w", f.Path, err)
	}
	return out, nil
}

// rangeStart reads the first byte position of "bytes 100-199/200".
func rangeStart(v string) (int64, bool) {
	v, ok := strings.CutPrefix(v, "bytes ")
	if !ok {
		return 0, false
	}
	start, _, ok := strings.Cut(v, "-")
	if !ok {
		return 0, false
	}
	n, err := strconv.ParseInt(start, 10, 64)
	return n, err == nil
}

// progressReader postpones the stall timer whenever bytes arrive.
type progressReader struct {
	r     io.Reader
	timer *time.Timer
}

func (p *progressReader) Read(b []byte) (int, error) {
	n, err := p.r.Read(b)
	if n > 0 {
		p.timer.Reset(stallTimeout)
	}
	return n, err
}

// writeError marks a failure to write the .part, which stops the download,
// apart from a failure to read the response, which refuses one file.
type writeError struct{ err error }

func (w *writeError) Error() string { return w.err.Error() }

type fileWriter struct{ f *os.File }

func (w fileWriter) Write(b []byte) (int, error) {
	n, err := w.f.Write(b)
	if err != nil {
		err = &writeError{err}
	}
	return n, err
}
