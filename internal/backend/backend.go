// Package backend opens enmei's store and blob store from the URLs on the
// command line (sqlite://, postgres://, file://, s3://). It is the one place that
// knows every backend, so the rest of enmei sees only the interfaces.
package backend

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/enmei-project/enmei/internal/blob"
	blobfs "github.com/enmei-project/enmei/internal/blob/fs"
	blobs3 "github.com/enmei-project/enmei/internal/blob/s3"
	"github.com/enmei-project/enmei/internal/errs"
	"github.com/enmei-project/enmei/internal/store"
	"github.com/enmei-project/enmei/internal/store/postgres"
	"github.com/enmei-project/enmei/internal/store/sqlite"
)

// ErrScheme is wrapped by the errors of a URL no backend handles; it is a
// mistake on the command line, not a failure of the backend.
var ErrScheme = errors.New("unknown backend URL scheme")

// OpenStore opens the store at url: sqlite://PATH or postgres://….
func OpenStore(ctx context.Context, url string) (store.Store, error) {
	switch {
	case strings.HasPrefix(url, "sqlite://"):
		path := strings.TrimPrefix(url, "sqlite://")
		if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
			return nil, fmt.Errorf("opening database %s: %w", url, err)
		}
		return sqlite.Open(ctx, path)
	case strings.HasPrefix(url, "postgres://"), strings.HasPrefix(url, "postgresql://"):
		return postgres.Open(ctx, url)
	}
	return nil, errs.Wrap(errs.Invalid, ErrScheme, fmt.Sprintf("database URL %q is not sqlite://PATH or postgres://…", url))
}

// OpenBlobs opens the blob store at url: file://DIR, or
// s3://BUCKET/PREFIX?endpoint=…&region=… (spool: the local directory an S3
// upload is hashed in first; "" for the system's temporary directory).
func OpenBlobs(ctx context.Context, url, spool string) (blob.Store, error) {
	switch {
	case strings.HasPrefix(url, "file://"):
		return blobfs.Open(strings.TrimPrefix(url, "file://"))
	case strings.HasPrefix(url, "s3://"):
		c, err := blobs3.ParseURL(url)
		if err != nil {
			return nil, errs.Wrap(errs.Invalid, ErrScheme, err.Error())
		}
		if spool != "" {
			if err := os.MkdirAll(spool, 0o700); err != nil {
				return nil, fmt.Errorf("the spool directory of the S3 blob store: %w", err)
			}
		}
		c.Spool = spool
		return blobs3.Open(ctx, c)
	}
	return nil, errs.Wrap(errs.Invalid, ErrScheme, fmt.Sprintf("blob store URL %q is not file://DIR or s3://BUCKET/PREFIX?endpoint=…", url))
}
