package csaf

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"sync"

	"github.com/enmei-project/enmei/internal/blob"
	"github.com/enmei-project/enmei/internal/errs"
)

// ManifestSetting names the setting that holds the blob address of the
// current manifest: the one pointer every replica reads, switched in one
// write once every file it names is stored.
const ManifestSetting = "csaf/manifest"

// SettingReader reads the manifest pointer.
type SettingReader interface {
	Setting(ctx context.Context, name string) ([]byte, error)
}

// Settings is where the manifest pointer lives.
type Settings interface {
	SettingReader
	PutSetting(ctx context.Context, name string, value []byte) error
}

// LoadStored returns the current manifest and its blob address (nil, "",
// nil before the first build).
func LoadStored(ctx context.Context, st SettingReader, blobs blob.Store) (*Manifest, string, error) {
	raw, err := st.Setting(ctx, ManifestSetting)
	if errs.Is(err, errs.NotFound) {
		return nil, "", nil
	}
	if err != nil {
		return nil, "", err
	}
	sum := string(raw)
	if err := blob.CheckSum(sum); err != nil {
		return nil, "", fmt.Errorf("the CSAF manifest pointer: %w", err)
	}
	r, _, err := blobs.Open(ctx, sum)
	if err != nil {
		return nil, "", fmt.Errorf("reading the CSAF manifest: %w", err)
	}
	defer r.Close()
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, "", fmt.Errorf("reading the CSAF manifest: %w", err)
	}
	m, err := DecodeManifest(data)
	return m, sum, err
}

// Store writes a manifest as a blob and makes it current.
func Store(ctx context.Context, st Settings, blobs blob.Store, m *Manifest) error {
	data, err := m.Encode()
	if err != nil {
		return err
	}
	info, err := blobs.Put(ctx, bytes.NewReader(data))
	if err != nil {
		return fmt.Errorf("storing the CSAF manifest: %w", err)
	}
	if err := blobs.Sync(ctx); err != nil {
		return err
	}
	return st.PutSetting(ctx, ManifestSetting, []byte(info.Sum))
}

// PutBlob adapts a blob store to Build's put.
func PutBlob(blobs blob.Store) func(ctx context.Context, data []byte) (FileRef, error) {
	return func(ctx context.Context, data []byte) (FileRef, error) {
		info, err := blobs.Put(ctx, bytes.NewReader(data))
		return FileRef{Sum: info.Sum, Size: info.Size}, err
	}
}

// Current loads the stored manifest for a server, reading the pointer per
// call and the manifest only when the pointer moved, so every replica
// serves a new tree at once.
type Current struct {
	Settings SettingReader
	Blobs    blob.Store

	mu  sync.Mutex
	sum string
	m   *Manifest
}

// Manifest returns the current manifest (nil before the first build).
func (c *Current) Manifest(ctx context.Context) (*Manifest, error) {
	raw, err := c.Settings.Setting(ctx, ManifestSetting)
	if errs.Is(err, errs.NotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m != nil && c.sum == string(raw) {
		return c.m, nil
	}
	m, sum, err := LoadStored(ctx, c.Settings, c.Blobs)
	if err != nil {
		return nil, err
	}
	c.m, c.sum = m, sum
	return m, nil
}

// Open opens a served file's blob.
func (c *Current) Open(ctx context.Context, sum string) (io.ReadSeekCloser, error) {
	r, _, err := c.Blobs.Open(ctx, sum)
	return r, err
}
