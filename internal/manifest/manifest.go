// Package manifest reads the manifest of a publication: every path the
// publication serves, the blob behind it, and the packages it holds. The
// server imports only this package to find files, never the publisher that
// writes manifests (and holds signing keys). Manifests are immutable blobs,
// so a cache of them never goes stale; it only bounds memory.
package manifest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"

	lru "github.com/hashicorp/golang-lru/v2"
	"golang.org/x/sync/singleflight"

	"github.com/enmei-project/enmei/internal/blob"
)

// Manifest is the content of a publication. It is written once, as a blob,
// before the publication becomes current, and never changes.
type Manifest struct {
	Repo     string             `json:"repo"`
	Format   string             `json:"format"`
	Packages []string           `json:"packages"` // package record IDs
	Files    map[string]FileRef `json:"files"`    // repository path → blob
	// Upstream holds a mirror's copies of its upstream's own metadata
	// documents by repomd type ("modules", "group", "updateinfo"),
	// decompressed. They are not served as they are: every publication
	// of the mirror is written with them (updateinfo merged with the
	// vendor's advisories), and gc keeps them like served files.
	Upstream map[string]FileRef `json:"upstream,omitempty"`
}

// FileRef points a served path at a blob.
type FileRef struct {
	Sum  string `json:"sum"`
	Size int64  `json:"size"`
}

// Opener is the part of a blob store manifests are read from.
type Opener interface {
	Open(ctx context.Context, sum string) (io.ReadSeekCloser, blob.Info, error)
}

// maxSize bounds what is read as a manifest: a repository of 200,000
// packages has a manifest of about 40 MB.
const maxSize = 256 << 20

// Load reads a manifest blob.
func Load(ctx context.Context, blobs Opener, sum string) (*Manifest, error) {
	r, info, err := blobs.Open(ctx, sum)
	if err != nil {
		return nil, fmt.Errorf("opening manifest %s: %w", sum, err)
	}
	defer r.Close()
	if info.Size > maxSize {
		return nil, fmt.Errorf("manifest %s is %d bytes, more than a manifest can be", sum, info.Size)
	}
	data, err := io.ReadAll(io.LimitReader(r, maxSize))
	if err != nil {
		return nil, fmt.Errorf("reading manifest %s: %w", sum, err)
	}
	var m Manifest
	if err := json.Unmarshal(data, &m); err != nil {
		return nil, fmt.Errorf("decoding manifest %s: %w", sum, err)
	}
	return &m, nil
}

// Encode returns the bytes a manifest is stored as.
func Encode(m *Manifest) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(m); err != nil {
		return nil, fmt.Errorf("encoding manifest: %w", err)
	}
	return buf.Bytes(), nil
}

// Cache keeps recently used manifests in memory, a bounded number of them;
// concurrent loads of one manifest are done once.
type Cache struct {
	blobs Opener
	lru   *lru.Cache[string, *Manifest]
	group singleflight.Group
}

// NewCache returns a cache holding at most size manifests.
func NewCache(blobs Opener, size int) *Cache {
	if size <= 0 {
		size = 16
	}
	c, _ := lru.New[string, *Manifest](size) // only fails for size <= 0
	return &Cache{blobs: blobs, lru: c}
}

// Get returns the manifest stored at sum. Callers only pass addresses read
// from the store, never from a request, so the cache holds only real
// manifests.
func (c *Cache) Get(ctx context.Context, sum string) (*Manifest, error) {
	if m, ok := c.lru.Get(sum); ok {
		return m, nil
	}
	v, err, _ := c.group.Do(sum, func() (any, error) {
		if m, ok := c.lru.Get(sum); ok {
			return m, nil
		}
		// Not the request's context: a caller that gives up must not fail
		// the others waiting on the same load.
		m, err := Load(context.WithoutCancel(ctx), c.blobs, sum)
		if err != nil {
			return nil, err
		}
		c.lru.Add(sum, m)
		return m, nil
	})
	if err != nil {
		return nil, err
	}
	return v.(*Manifest), nil
}
