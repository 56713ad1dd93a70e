package manifest

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/enmei-project/enmei/internal/blob"
	blobfs "github.com/enmei-project/enmei/internal/blob/fs"
)

type countingOpener struct {
	Opener
	n atomic.Int64
}

func (c *countingOpener) Open(ctx context.Context, sum string) (io.ReadSeekCloser, blob.Info, error) {
	c.n.Add(1)
	return c.Opener.Open(ctx, sum)
}

func TestCacheBoundedAndShared(t *testing.T) {
	ctx := context.Background()
	d, err := blobfs.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	var sums []string
	for i := 0; i < 10; i++ {
		data, err := Encode(&Manifest{Repo: fmt.Sprint("r", i), Format: "rpm", Files: map[string]FileRef{"a": {Sum: "x", Size: int64(i)}}})
		if err != nil {
			t.Fatal(err)
		}
		info, err := d.Put(ctx, bytes.NewReader(data))
		if err != nil {
			t.Fatal(err)
		}
		sums = append(sums, info.Sum)
	}
	co := &countingOpener{Opener: d}
	c := NewCache(co, 4)
	var wg sync.WaitGroup
	for i := 0; i < 50; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			m, err := c.Get(ctx, sums[0])
			if err != nil || m.Repo != "r0" {
				t.Errorf("Get = %+v, %v", m, err)
			}
		}()
	}
	wg.Wait()
	if n := co.n.Load(); n > 2 {
		t.Errorf("50 concurrent Gets of one manifest opened it %d times, want 1 (or 2 at worst)", n)
	}
	for _, s := range sums {
		if _, err := c.Get(ctx, s); err != nil {
			t.Fatal(err)
		}
	}
	if c.lru.Len() != 4 {
		t.Errorf("cache holds %d manifests, want at most 4", c.lru.Len())
	}
	if m, err := c.Get(ctx, sums[9]); err != nil || m.Files["a"].Size != 9 {
		t.Errorf("Get(last) = %+v, %v", m, err)
	}
	if _, err := c.Get(ctx, "0000000000000000000000000000000000000000000000000000000000000000"); err == nil {
		t.Error("Get(missing) succeeded")
	}
}
