package fs

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/enmei-project/enmei/internal/blob/blobtest"
)

func TestConformance(t *testing.T) {
	d, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	blobtest.Run(t, d)
}

// TestPutRacingDelete: a Put of existing content that returns while a gc
// deletes the blob must leave the blob stored, whichever wins.
func TestPutRacingDelete(t *testing.T) {
	ctx := context.Background()
	d, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	past := time.Now().Add(-time.Hour)
	for i := 0; i < 300; i++ {
		content := []byte(fmt.Sprint("blob ", i))
		info, err := d.Put(ctx, bytes.NewReader(content))
		if err != nil {
			t.Fatal(err)
		}
		os.Chtimes(d.path(info.Sum), past, past) // an old, unreferenced blob
		cut := time.Now()
		var wg sync.WaitGroup
		wg.Add(2)
		go func() {
			defer wg.Done()
			if _, err := d.Put(ctx, bytes.NewReader(content)); err != nil {
				t.Error(err)
			}
		}()
		go func() {
			defer wg.Done()
			if _, err := d.Delete(ctx, info.Sum, cut); err != nil {
				t.Error(err)
			}
		}()
		wg.Wait()
		if _, err := d.Stat(ctx, info.Sum); err != nil {
			t.Fatalf("round %d: a Put that returned lost its blob to a concurrent Delete: %v", i, err)
		}
	}
}

func TestCleanTemp(t *testing.T) {
	ctx := context.Background()
	root := t.TempDir()
	d, err := Open(root)
	if err != nil {
		t.Fatal(err)
	}
	stale := filepath.Join(root, "tmp", "put-crashed")
	fresh := filepath.Join(root, "tmp", "put-running")
	for _, p := range []string{stale, fresh} {
		if err := os.WriteFile(p, []byte("x"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	old := time.Now().Add(-48 * time.Hour)
	os.Chtimes(stale, old, old)
	n, err := d.CleanTemp(ctx, time.Now().Add(-24*time.Hour))
	if err != nil || n != 1 {
		t.Errorf("CleanTemp = %d, %v; want 1", n, err)
	}
	if _, err := os.Stat(stale); err == nil {
		t.Error("the stale temporary file is still there")
	}
	if _, err := os.Stat(fresh); err != nil {
		t.Errorf("the fresh temporary file was removed: %v", err)
	}
}
