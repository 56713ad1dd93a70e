package s3_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"io"
	"testing"
	"time"

	"github.com/enmei-project/enmei/internal/blob/blobtest"
	blobs3 "github.com/enmei-project/enmei/internal/blob/s3"
	"github.com/enmei-project/enmei/internal/errs"
	"github.com/enmei-project/enmei/internal/testutil/s3test"
)

func open(t *testing.T, srv *s3test.Server, prefix string) *blobs3.Store {
	t.Helper()
	c, err := blobs3.ParseURL(srv.URL(prefix))
	if err != nil {
		t.Fatal(err)
	}
	c.Spool = t.TempDir()
	s, err := blobs3.Open(context.Background(), c)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestConformance runs the blob.Store suite against a real S3 server.
func TestConformance(t *testing.T) {
	srv := s3test.Start(t)
	srv.Setenv(t)
	blobtest.Run(t, open(t, srv, "conformance"))
}

// TestLargeBlobRanges stores a blob big enough for a multipart upload and
// reads ranges of it.
func TestLargeBlobRanges(t *testing.T) {
	srv := s3test.Start(t)
	srv.Setenv(t)
	s := open(t, srv, "large")
	data := make([]byte, 80<<20) // over the 64 MiB part size
	rand.Read(data)
	ctx := context.Background()
	info, err := s.Put(ctx, bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	r, oi, err := s.Open(ctx, info.Sum)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if oi.Size != int64(len(data)) {
		t.Fatalf("size %d, want %d", oi.Size, len(data))
	}
	for _, off := range []int64{0, 70 << 20, int64(len(data)) - 10} {
		if _, err := r.Seek(off, io.SeekStart); err != nil {
			t.Fatal(err)
		}
		buf := make([]byte, 10)
		if _, err := io.ReadFull(r, buf); err != nil || !bytes.Equal(buf, data[off:off+10]) {
			t.Fatalf("range at %d: %v", off, err)
		}
	}
}

func TestParseURL(t *testing.T) {
	for _, tc := range []struct {
		url  string
		ok   bool
		want blobs3.Config
	}{
		{"s3://bucket/a/b?endpoint=http://127.0.0.1:7070&region=eu-1", true, blobs3.Config{Bucket: "bucket", Prefix: "a/b", Endpoint: "127.0.0.1:7070", Region: "eu-1"}},
		{"s3://bucket", true, blobs3.Config{Bucket: "bucket", Region: "us-east-1", Secure: true}},
		{"s3://bucket/p?endpoint=https://s3.example.jp", true, blobs3.Config{Bucket: "bucket", Prefix: "p", Endpoint: "s3.example.jp", Region: "us-east-1", Secure: true}},
		{"s3:///nobucket", false, blobs3.Config{}},
		{"s3://b/p?endpoint=ftp://x", false, blobs3.Config{}},
		{"s3://b/p?secret=x", false, blobs3.Config{}},
	} {
		got, err := blobs3.ParseURL(tc.url)
		if (err == nil) != tc.ok || (tc.ok && got != tc.want) {
			t.Errorf("ParseURL(%q) = %+v, %v", tc.url, got, err)
		}
	}
}

// TestUnreachable: with the server down, calls fail fast as Unavailable,
// and work again once it is back.
func TestUnreachable(t *testing.T) {
	srv := s3test.Start(t)
	srv.Setenv(t)
	s := open(t, srv, "outage")
	ctx := context.Background()
	info, err := s.Put(ctx, bytes.NewReader([]byte("before the outage")))
	if err != nil {
		t.Fatal(err)
	}
	srv.Stop()
	start := time.Now()
	_, err = s.Stat(ctx, info.Sum)
	if !errs.Is(err, errs.Unavailable) || time.Since(start) > 10*time.Second {
		t.Fatalf("Stat with the server down = %v after %v, want Unavailable within seconds", err, time.Since(start))
	}
	if _, err := s.Put(ctx, bytes.NewReader([]byte("during"))); err == nil {
		t.Fatal("Put succeeded with the server down")
	}
	srv.Restart()
	if _, err := s.Stat(ctx, info.Sum); err != nil {
		t.Fatalf("after the restart: %v", err)
	}
	// Opening a store that cannot be reached says so.
	srv.Stop()
	c, _ := blobs3.ParseURL(srv.URL("outage"))
	if _, err := blobs3.Open(ctx, c); !errs.Is(err, errs.Unavailable) {
		t.Fatalf("Open with the server down = %v", err)
	}
}
