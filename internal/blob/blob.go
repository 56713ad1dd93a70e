// Package blob defines content-addressed storage for package files and
// published metadata: every blob is named by the sha256 of its content, so a
// file is stored once however many repositories and publications use it, and a
// name can never point at different bytes. Backends (the filesystem now, S3
// later) implement Store and pass the blobtest conformance suite.
package blob

import (
	"context"
	"io"
	"regexp"
	"time"

	"github.com/enmei-project/enmei/internal/errs"
)

// Info describes a stored blob.
type Info struct {
	Sum     string // sha256, lower-case hex
	Size    int64
	ModTime time.Time
}

// Store keeps blobs.
type Store interface {
	// Put stores the content of r and returns its address. Storing content
	// that is already there is cheap and changes nothing. A failed Put leaves
	// nothing visible.
	Put(ctx context.Context, r io.Reader) (Info, error)
	// Open returns a blob's content for streaming; Seek serves Range requests.
	Open(ctx context.Context, sum string) (io.ReadSeekCloser, Info, error)
	// Stat describes a blob (errs.NotFound if absent).
	Stat(ctx context.Context, sum string) (Info, error)
	// Sync makes every blob Put so far durable. Publishing calls it once,
	// before a publication that names the blobs becomes current, instead of
	// paying for a sync per blob.
	Sync(ctx context.Context) error
	// Touch marks a stored blob as used now (errs.NotFound if it is not
	// stored), as Put of existing content does, so a garbage collection
	// that started earlier keeps it.
	Touch(ctx context.Context, sum string) error
	// Walk calls f with every stored blob, in no particular order.
	Walk(ctx context.Context, f func(Info) error) error
	// Delete removes a blob unless it was stored or touched at or after
	// before, and reports whether it did. A Put or Touch racing with Delete
	// wins: the blob stays, or is stored again by the Put.
	Delete(ctx context.Context, sum string, before time.Time) (bool, error)
	// CleanTemp removes what writes that never finished (a crash, a kill)
	// left behind, if it is older than before, and returns how many.
	CleanTemp(ctx context.Context, before time.Time) (int, error)
}

var sumRE = regexp.MustCompile(`^[0-9a-f]{64}$`)

// CheckSum returns an Invalid error unless sum is a well-formed address, so no
// backend ever builds a path or key from untrusted text.
func CheckSum(sum string) error {
	if !sumRE.MatchString(sum) {
		return errs.E(errs.Invalid, "%q is not a blob address (sha256 hex)", sum)
	}
	return nil
}

// ContextReader returns a reader that stops a long copy when ctx ends.
func ContextReader(ctx context.Context, r io.Reader) io.Reader { return ctxReader{ctx, r} }

type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}
