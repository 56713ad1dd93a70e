// Package blobtest is the conformance suite every blob.Store passes.
package blobtest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"testing"
	"time"

	"github.com/enmei-project/enmei/internal/blob"
	"github.com/enmei-project/enmei/internal/errs"
)

// Run checks s against the blob.Store contract.
func Run(t *testing.T, s blob.Store) {
	ctx := context.Background()
	data := bytes.Repeat([]byte("延命 enmei\x00"), 10000)
	want := sha256.Sum256(data)
	wantSum := hex.EncodeToString(want[:])

	t.Run("PutOpen", func(t *testing.T) {
		info, err := s.Put(ctx, bytes.NewReader(data))
		if err != nil {
			t.Fatal(err)
		}
		if info.Sum != wantSum || info.Size != int64(len(data)) {
			t.Fatalf("Put = %+v, want sum %s size %d", info, wantSum, len(data))
		}
		again, err := s.Put(ctx, bytes.NewReader(data))
		if err != nil || again.Sum != wantSum {
			t.Fatalf("second Put = %+v, %v", again, err)
		}
		r, oi, err := s.Open(ctx, wantSum)
		if err != nil {
			t.Fatal(err)
		}
		defer r.Close()
		if oi.Size != int64(len(data)) {
			t.Errorf("Open size = %d, want %d", oi.Size, len(data))
		}
		if _, err := r.Seek(100, io.SeekStart); err != nil {
			t.Fatal(err)
		}
		got, err := io.ReadAll(r)
		if err != nil || !bytes.Equal(got, data[100:]) {
			t.Fatalf("read after Seek(100) = %d bytes, %v; want %d bytes", len(got), err, len(data)-100)
		}
		if err := s.Sync(ctx); err != nil {
			t.Fatalf("Sync: %v", err)
		}
		st, err := s.Stat(ctx, wantSum)
		if err != nil || st.Size != int64(len(data)) {
			t.Fatalf("Stat = %+v, %v", st, err)
		}
	})
	t.Run("NotFound", func(t *testing.T) {
		missing := hex.EncodeToString(make([]byte, 32))
		if _, _, err := s.Open(ctx, missing); !errs.Is(err, errs.NotFound) {
			t.Errorf("Open(missing) = %v, want NotFound", err)
		}
		if _, err := s.Stat(ctx, missing); !errs.Is(err, errs.NotFound) {
			t.Errorf("Stat(missing) = %v, want NotFound", err)
		}
	})
	t.Run("Traversal", func(t *testing.T) {
		for _, bad := range []string{"../../etc/passwd", "", "ab", wantSum[:63] + "/", "../" + wantSum[3:]} {
			if _, _, err := s.Open(ctx, bad); !errs.Is(err, errs.Invalid) {
				t.Errorf("Open(%q) = %v, want Invalid", bad, err)
			}
		}
	})
	t.Run("TouchWalkDelete", func(t *testing.T) {
		old, err := s.Put(ctx, bytes.NewReader([]byte("old blob")))
		if err != nil {
			t.Fatal(err)
		}
		kept, err := s.Put(ctx, bytes.NewReader([]byte("kept blob")))
		if err != nil {
			t.Fatal(err)
		}
		time.Sleep(1100 * time.Millisecond) // coarse clocks: S3 keeps seconds
		cut := time.Now()
		time.Sleep(1100 * time.Millisecond)
		// Storing existing content again counts as a use, as Touch does.
		if _, err := s.Put(ctx, bytes.NewReader([]byte("kept blob"))); err != nil {
			t.Fatal(err)
		}
		if err := s.Touch(ctx, wantSum); err != nil {
			t.Fatalf("Touch = %v", err)
		}
		if err := s.Touch(ctx, hex.EncodeToString(make([]byte, 32))); !errs.Is(err, errs.NotFound) {
			t.Errorf("Touch(missing) = %v, want NotFound", err)
		}
		seen := map[string]int64{}
		if err := s.Walk(ctx, func(i blob.Info) error { seen[i.Sum] = i.Size; return nil }); err != nil {
			t.Fatal(err)
		}
		if seen[old.Sum] != old.Size || seen[kept.Sum] != kept.Size || seen[wantSum] != int64(len(data)) {
			t.Errorf("Walk saw %v; want %s, %s and %s", seen, old.Sum, kept.Sum, wantSum)
		}
		for _, sum := range []string{kept.Sum, wantSum} {
			if gone, err := s.Delete(ctx, sum, cut); err != nil || gone {
				t.Errorf("Delete(%s used after the cut-off) = %v, %v; want kept", sum, gone, err)
			}
		}
		if gone, err := s.Delete(ctx, old.Sum, cut); err != nil || !gone {
			t.Errorf("Delete(old) = %v, %v; want deleted", gone, err)
		}
		if _, err := s.Stat(ctx, old.Sum); !errs.Is(err, errs.NotFound) {
			t.Errorf("Stat(deleted) = %v, want NotFound", err)
		}
		if gone, err := s.Delete(ctx, old.Sum, cut); err != nil || gone {
			t.Errorf("Delete(already deleted) = %v, %v", gone, err)
		}
		if _, err := s.Delete(ctx, "../x", cut); !errs.Is(err, errs.Invalid) {
			t.Errorf("Delete(../x) = %v, want Invalid", err)
		}
		// Content put again after a delete is stored again.
		if _, err := s.Put(ctx, bytes.NewReader([]byte("old blob"))); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Stat(ctx, old.Sum); err != nil {
			t.Errorf("Stat(put again) = %v", err)
		}
		if _, err := s.CleanTemp(ctx, time.Now()); err != nil {
			t.Errorf("CleanTemp = %v", err)
		}
	})
	t.Run("FailedPutLeavesNothing", func(t *testing.T) {
		partial := []byte("partial content that never completes")
		sum := sha256.Sum256(partial)
		_, err := s.Put(ctx, io.MultiReader(bytes.NewReader(partial), errReader{}))
		if err == nil {
			t.Fatal("Put with a failing reader succeeded")
		}
		if _, err := s.Stat(ctx, hex.EncodeToString(sum[:])); !errs.Is(err, errs.NotFound) {
			t.Errorf("after failed Put, Stat = %v, want NotFound", err)
		}
	})
}

type errReader struct{}

func (errReader) Read([]byte) (int, error) { return 0, errors.New("disk on fire") }
