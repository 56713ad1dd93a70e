package publish

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"sync"

	"github.com/enmei-project/enmei/internal/blob"
)

// Manifest is the content of a publication: every path it serves and the blob
// behind it, and the packages it holds. It is written once, as a blob, before
// the publication becomes current, and never changes.
type Manifest struct {
	Repo     string             `json:"repo"`
	Format   string             `json:"format"`
	Packages []string           `json:"packages"` // store.Package IDs
	Files    map[string]FileRef `json:"files"`    // repository path → blob
}

// FileRef points a served path at a blob.
type FileRef struct {
	Sum  string `json:"sum"`
	Size int64  `json:"size"`
}

// LoadManifest reads a manifest blob.
func LoadManifest(ctx context.Context, blobs blob.Store, sum string) (*Manifest, error) {
	r, _, err := blobs.Open(ctx, sum)
	if err != nil {
		return nil, fmt.Errorf("opening manifest %s: %w", sum, err)
	}
	defer r.Close()
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, fmt.Errorf("reading manifest %s: %w", sum, err)
	}
	var m Manifest
	if err := json.Unmarshal(data, &m); err != nil {
		return nil, fmt.Errorf("decoding manifest %s: %w", sum, err)
	}
	return &m, nil
}

func putManifest(ctx context.Context, blobs blob.Store, m *Manifest) (string, error) {
	data, err := json.Marshal(m)
	if err != nil {
		return "", fmt.Errorf("encoding manifest: %w", err)
	}
	info, err := blobs.Put(ctx, bytes.NewReader(data))
	if err != nil {
		return "", fmt.Errorf("storing manifest: %w", err)
	}
	return info.Sum, nil
}

// ManifestCache keeps recently used manifests in memory. Manifests are
// immutable, so entries never go stale; the cache only bounds memory.
type ManifestCache struct {
	Blobs blob.Store
	Max   int

	mu    sync.Mutex
	items map[string]*Manifest
	order []string
}

// Get returns the manifest stored at sum.
func (c *ManifestCache) Get(ctx context.Context, sum string) (*Manifest, error) {
	c.mu.Lock()
	if m, ok := c.items[sum]; ok {
		c.mu.Unlock()
		return m, nil
	}
	c.mu.Unlock()
	m, err := LoadManifest(ctx, c.Blobs, sum)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.items == nil {
		c.items = map[string]*Manifest{}
	}
	if _, ok := c.items[sum]; !ok {
		c.items[sum] = m
		c.order = append(c.order, sum)
		max := c.Max
		if max <= 0 {
			max = 16
		}
		for len(c.order) > max {
			delete(c.items, c.order[0])
			c.order = c.order[1:]
		}
	}
	return m, nil
}
