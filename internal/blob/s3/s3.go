// Package s3 keeps blobs in S3-compatible object storage (AWS S3, MinIO,
// versitygw, Ceph RGW), so any number of enmeid replicas share one store.
// Objects are named PREFIX/blobs/<first two hex digits>/<sha256>, as blob/fs
// names files. A Put streams the content to a local spool file while hashing
// it (the key is the hash, known only at the end), then uploads it — in
// parts when large — unless the object is already there, in which case it
// only marks it used. "Used" is the later of the object's LastModified and
// its x-amz-meta-enmei-used time, which a Touch sets by copying the object
// onto itself with new metadata (not every S3 implementation gives such a
// copy a new LastModified), so gc's age checks work as on the filesystem. Downloads are ranged GETs streamed
// to the client, never held in memory.
package s3

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"

	"github.com/enmei-project/enmei/internal/blob"
	"github.com/enmei-project/enmei/internal/errs"
)

// Store is a bucket (and key prefix) holding blobs.
type Store struct {
	c      *minio.Client
	bucket string
	prefix string // "" or "some/prefix/"
	spool  string // directory of the local spool files
}

// Config is what Open needs; ParseURL makes it from an s3:// URL.
type Config struct {
	Bucket   string
	Prefix   string
	Endpoint string // host:port; "" for AWS
	Secure   bool   // https to the endpoint
	Region   string
	// Spool is where Put writes its local copy while hashing; "" is the
	// system's temporary directory.
	Spool string
}

// ParseURL reads s3://BUCKET/PREFIX?endpoint=http://HOST:PORT&region=R. A
// custom endpoint is addressed path-style; the region defaults to us-east-1.
func ParseURL(raw string) (Config, error) {
	u, err := url.Parse(raw)
	if err != nil || u.Scheme != "s3" || u.Host == "" {
		return Config{}, errs.E(errs.Invalid, "blob store URL %q is not s3://BUCKET/PREFIX?endpoint=…&region=…", raw)
	}
	c := Config{Bucket: u.Host, Prefix: strings.Trim(u.Path, "/"), Region: u.Query().Get("region"), Secure: true}
	if c.Region == "" {
		c.Region = "us-east-1"
	}
	if ep := u.Query().Get("endpoint"); ep != "" {
		e, err := url.Parse(ep)
		if err != nil || (e.Scheme != "http" && e.Scheme != "https") || e.Host == "" {
			return Config{}, errs.E(errs.Invalid, "endpoint %q of the blob store URL is not http://HOST:PORT or https://HOST:PORT", ep)
		}
		c.Endpoint, c.Secure = e.Host, e.Scheme == "https"
	}
	for k := range u.Query() {
		if k != "endpoint" && k != "region" {
			return Config{}, errs.E(errs.Invalid, "blob store URL parameter %q is not endpoint or region", k)
		}
	}
	return c, nil
}

// Open connects to the bucket and checks it answers (a start-up probe):
// credentials come from AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (and
// AWS_SESSION_TOKEN when set).
func Open(ctx context.Context, c Config) (*Store, error) {
	endpoint := c.Endpoint
	lookup := minio.BucketLookupPath
	if endpoint == "" {
		endpoint, lookup = "s3."+c.Region+".amazonaws.com", minio.BucketLookupAuto
	}
	cl, err := minio.New(endpoint, &minio.Options{
		Creds:        credentials.NewEnvAWS(),
		Secure:       c.Secure,
		Region:       c.Region,
		BucketLookup: lookup,
		Transport:    transport(),
		// A request that fails is retried by the caller (dnf, apt) or the
		// publish; here it must fail fast so the server answers 503.
		MaxRetries: 1,
	})
	if err != nil {
		return nil, fmt.Errorf("s3 blob store: %w", err)
	}
	s := &Store{c: cl, bucket: c.Bucket, spool: c.Spool}
	if c.Prefix != "" {
		s.prefix = c.Prefix + "/"
	}
	pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	ok, err := cl.BucketExists(pctx, c.Bucket)
	if err != nil {
		return nil, unavailable(fmt.Errorf("s3 blob store %s at %s: %w", c.Bucket, endpoint, err))
	}
	if !ok {
		return nil, errs.E(errs.Invalid, "s3 bucket %q does not exist at %s: create it first", c.Bucket, endpoint)
	}
	return s, nil
}

// transport bounds connecting and waiting for headers, so an unreachable
// store fails in seconds instead of hanging requests.
func transport() *http.Transport {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.DialContext = (&net.Dialer{Timeout: 3 * time.Second, KeepAlive: 30 * time.Second}).DialContext
	t.ResponseHeaderTimeout = 15 * time.Second
	t.MaxIdleConnsPerHost = 64
	return t
}

func unavailable(err error) error {
	return errs.Wrap(errs.Unavailable, err, err.Error()+": the object store cannot be reached; check it and the endpoint")
}

func (s *Store) key(sum string) string { return s.prefix + "blobs/" + sum[:2] + "/" + sum }

// wrap turns S3 errors into errs kinds: a missing key is NotFound; a
// network failure or a 5xx is Unavailable.
func (s *Store) wrap(sum string, err error) error {
	if err == nil {
		return nil
	}
	resp := minio.ToErrorResponse(err)
	switch {
	case resp.Code == "NoSuchKey" || resp.StatusCode == http.StatusNotFound:
		return errs.E(errs.NotFound, "blob %s is not in the store", sum)
	case resp.StatusCode == 0 || resp.StatusCode >= 500:
		return unavailable(fmt.Errorf("blob %s: %w", sum, err))
	}
	return fmt.Errorf("blob %s: %w", sum, err)
}

// Put implements blob.Store.
func (s *Store) Put(ctx context.Context, r io.Reader) (blob.Info, error) {
	f, err := os.CreateTemp(s.spool, "enmei-s3-put-*")
	if err != nil {
		return blob.Info{}, fmt.Errorf("s3 blob store: spooling: %w", err)
	}
	defer os.Remove(f.Name())
	defer f.Close()
	h := sha256.New()
	n, err := io.Copy(io.MultiWriter(f, h), blob.ContextReader(ctx, r))
	if err != nil {
		return blob.Info{}, fmt.Errorf("s3 blob store: reading the content: %w", err)
	}
	sum := hex.EncodeToString(h.Sum(nil))
	// Content already stored is only marked used.
	if err := s.Touch(ctx, sum); err == nil {
		return blob.Info{Sum: sum, Size: n, ModTime: time.Now()}, nil
	} else if !errs.Is(err, errs.NotFound) {
		return blob.Info{}, err
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return blob.Info{}, err
	}
	// minio-go uploads in parts above its part size (16 MiB and up), from
	// the file, so nothing is held whole in memory; an upload that fails
	// leaves no object (parts of an abandoned multipart upload are
	// removed by CleanTemp).
	_, err = s.c.PutObject(ctx, s.bucket, s.key(sum), f, n, minio.PutObjectOptions{
		ContentType: "application/octet-stream", SendContentMd5: false, PartSize: 64 << 20})
	if err != nil {
		return blob.Info{}, s.wrap(sum, err)
	}
	return blob.Info{Sum: sum, Size: n, ModTime: time.Now()}, nil
}

// Open implements blob.Store. The object reads lazily: Seek then Read makes
// one ranged GET, so Range requests never fetch the whole blob.
func (s *Store) Open(ctx context.Context, sum string) (io.ReadSeekCloser, blob.Info, error) {
	info, err := s.Stat(ctx, sum)
	if err != nil {
		return nil, blob.Info{}, err
	}
	o, err := s.c.GetObject(ctx, s.bucket, s.key(sum), minio.GetObjectOptions{})
	if err != nil {
		return nil, blob.Info{}, s.wrap(sum, err)
	}
	return &object{o: o, sum: sum, s: s}, info, nil
}

// object maps S3 errors met while reading to errs kinds.
type object struct {
	o   *minio.Object
	sum string
	s   *Store
}

func (o *object) Read(p []byte) (int, error) {
	n, err := o.o.Read(p)
	if err != nil && !errors.Is(err, io.EOF) {
		err = o.s.wrap(o.sum, err)
	}
	return n, err
}

func (o *object) Seek(off int64, whence int) (int64, error) { return o.o.Seek(off, whence) }
func (o *object) Close() error                              { return o.o.Close() }

// Stat implements blob.Store.
func (s *Store) Stat(ctx context.Context, sum string) (blob.Info, error) {
	if err := blob.CheckSum(sum); err != nil {
		return blob.Info{}, err
	}
	oi, err := s.c.StatObject(ctx, s.bucket, s.key(sum), minio.StatObjectOptions{})
	if err != nil {
		return blob.Info{}, s.wrap(sum, err)
	}
	used := oi.LastModified
	if t, err := time.Parse(time.RFC3339Nano, oi.UserMetadata[usedMeta]); err == nil && t.After(used) {
		used = t
	}
	return blob.Info{Sum: sum, Size: oi.Size, ModTime: used}, nil
}

// usedMeta is the user metadata a Touch sets (x-amz-meta-enmei-used).
const usedMeta = "Enmei-Used"

// Sync implements blob.Store: a successful PUT is already durable.
func (s *Store) Sync(ctx context.Context) error { return nil }

// Touch implements blob.Store: the object is copied onto itself with its
// metadata replaced, which gives it a new LastModified.
func (s *Store) Touch(ctx context.Context, sum string) error {
	if err := blob.CheckSum(sum); err != nil {
		return err
	}
	k := s.key(sum)
	_, err := s.c.CopyObject(ctx,
		minio.CopyDestOptions{Bucket: s.bucket, Object: k, ReplaceMetadata: true,
			UserMetadata: map[string]string{usedMeta: time.Now().UTC().Format(time.RFC3339Nano)}},
		minio.CopySrcOptions{Bucket: s.bucket, Object: k})
	return s.wrap(sum, err)
}

// Walk implements blob.Store.
func (s *Store) Walk(ctx context.Context, f func(blob.Info) error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	for o := range s.c.ListObjects(ctx, s.bucket, minio.ListObjectsOptions{Prefix: s.prefix + "blobs/", Recursive: true}) {
		if o.Err != nil {
			return s.wrap("listing", o.Err)
		}
		sum := filepath.Base(o.Key)
		if blob.CheckSum(sum) != nil {
			continue // not ours
		}
		if err := f(blob.Info{Sum: sum, Size: o.Size, ModTime: o.LastModified}); err != nil {
			return err
		}
	}
	return nil
}

// Delete implements blob.Store. S3 has no conditional delete on age, so the
// age is checked just before the DELETE; gc's leases (a publish marks what
// it uses after its lease began, and gc cuts off before the oldest lease)
// keep a racing publish's blobs out of the window between the two.
func (s *Store) Delete(ctx context.Context, sum string, before time.Time) (bool, error) {
	info, err := s.Stat(ctx, sum)
	if errs.Is(err, errs.NotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	if !info.ModTime.Before(before) {
		return false, nil
	}
	if err := s.c.RemoveObject(ctx, s.bucket, s.key(sum), minio.RemoveObjectOptions{}); err != nil {
		return false, s.wrap(sum, err)
	}
	return true, nil
}

// CleanTemp implements blob.Store: spool files of Puts that were killed,
// and multipart uploads that were never completed, older than before.
func (s *Store) CleanTemp(ctx context.Context, before time.Time) (int, error) {
	n := 0
	dir := s.spool
	if dir == "" {
		dir = os.TempDir()
	}
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		fi, err := e.Info()
		if err != nil || !strings.HasPrefix(e.Name(), "enmei-s3-put-") || !fi.ModTime().Before(before) {
			continue
		}
		if os.Remove(filepath.Join(dir, e.Name())) == nil {
			n++
		}
	}
	for u := range s.c.ListIncompleteUploads(ctx, s.bucket, s.prefix+"blobs/", true) {
		if u.Err != nil {
			// Not every S3 implementation lists uploads; nothing to clean then.
			break
		}
		if !u.Initiated.Before(before) {
			continue
		}
		if err := s.c.RemoveIncompleteUpload(ctx, s.bucket, u.Key); err == nil {
			n++
		}
	}
	return n, nil
}

var _ blob.Store = (*Store)(nil)
