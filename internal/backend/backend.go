// Package backend opens enmei's store and blob store from the URLs on the
// command line (sqlite://, postgres://, file://). It is the one place that
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

// OpenBlobs opens the blob store at url: file://DIR.
func OpenBlobs(ctx context.Context, url string) (blob.Store, error) {
	if strings.HasPrefix(url, "file://") {
		return blobfs.Open(strings.TrimPrefix(url, "file://"))
	}
	return nil, errs.Wrap(errs.Invalid, ErrScheme, fmt.Sprintf("blob store URL %q is not file://DIR (s3:// is planned)", url))
}
