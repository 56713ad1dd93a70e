package gc_test

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	blobfs "github.com/enmei-project/enmei/internal/blob/fs"
	"github.com/enmei-project/enmei/internal/bundle"
	"github.com/enmei-project/enmei/internal/demo"
	"github.com/enmei-project/enmei/internal/gc"
	"github.com/enmei-project/enmei/internal/manifest"
	"github.com/enmei-project/enmei/internal/publish"
	"github.com/enmei-project/enmei/internal/sign"
	"github.com/enmei-project/enmei/internal/store"
	"github.com/enmei-project/enmei/internal/store/sqlite"
)

var ctx = context.Background()

type env struct {
	st   *sqlite.DB
	blob *blobfs.Dir
	pub  *publish.Publisher
	gc   *gc.Collector
	dir  string
}

func setup(t *testing.T) *env {
	t.Helper()
	dir := t.TempDir()
	st, err := sqlite.Open(ctx, filepath.Join(dir, "db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	blobs, err := blobfs.Open(filepath.Join(dir, "blobs"))
	if err != nil {
		t.Fatal(err)
	}
	key, err := sign.Generate("t", "t@example.com", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if err := st.AddProduct(ctx, store.Product{ID: "p", Name: "P", Format: "rpm"}); err != nil {
		t.Fatal(err)
	}
	if err := st.AddRepo(ctx, store.Repo{ID: "r", ProductID: "p", Format: "rpm"}); err != nil {
		t.Fatal(err)
	}
	staging := filepath.Join(dir, "tmp")
	return &env{st: st, blob: blobs, dir: dir,
		pub: &publish.Publisher{Store: st, Blobs: blobs, Key: key, Now: time.Now, TempDir: staging, Log: slog.New(slog.DiscardHandler)},
		gc:  &gc.Collector{Store: st, Blobs: blobs, StagingDirs: []string{staging}, Log: slog.New(slog.DiscardHandler)}}
}

func rpm(t *testing.T, name, content string) string {
	t.Helper()
	data, err := demo.RPM(demo.Spec{Name: name, Version: "1", Release: "1", Arch: "x86_64", Summary: name,
		Files: map[string]string{"/usr/share/" + name: content}})
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), name+".rpm")
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// intact fails the test unless every remaining publication's manifest, every
// file it serves and every package record it names are stored.
func intact(t *testing.T, e *env) {
	t.Helper()
	pubs, err := e.st.Publications(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range pubs {
		m, err := manifest.Load(ctx, e.blob, p.Manifest)
		if err != nil {
			t.Fatalf("publication %d lost its manifest: %v", p.ID, err)
		}
		for path, f := range m.Files {
			if _, err := e.blob.Stat(ctx, f.Sum); err != nil {
				t.Fatalf("publication %d lost %s: %v", p.ID, path, err)
			}
		}
		if _, err := e.st.Packages(ctx, m.Packages); err != nil {
			t.Fatalf("publication %d lost a package record: %v", p.ID, err)
		}
	}
}

func TestFreesWhatNothingReferences(t *testing.T) {
	e := setup(t)
	if _, err := e.pub.Publish(ctx, "r", []string{rpm(t, "hello", "one"), rpm(t, "keep", "k")}, publish.Options{}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.pub.Publish(ctx, "r", []string{rpm(t, "hello", "two")}, publish.Options{Replace: true}); err != nil {
		t.Fatal(err)
	}
	// Nothing is unreferenced while every publication is kept.
	rep, err := e.gc.Run(ctx, 0)
	if err != nil || rep.Packages != 0 || rep.Blobs != 0 {
		t.Fatalf("gc with every publication kept = %+v, %v; want nothing freed", rep, err)
	}
	if _, err := e.pub.Prune(ctx, "r", 0); err != nil {
		t.Fatal(err)
	}
	// A stale staging directory and temporary blob of a crashed publish.
	old := time.Now().Add(-48 * time.Hour)
	crashed := filepath.Join(e.dir, "tmp", "enmei-publish-123")
	os.MkdirAll(crashed, 0o700)
	os.Chtimes(crashed, old, old)
	tmpBlob := filepath.Join(e.dir, "blobs", "tmp", "put-999")
	os.WriteFile(tmpBlob, []byte("partial"), 0o600)
	os.Chtimes(tmpBlob, old, old)

	// Within the grace period nothing goes but the day-old temporary files.
	if rep, err := e.gc.Run(ctx, time.Hour); err != nil || rep.Packages != 0 || rep.Blobs != 0 || rep.KeptYoung == 0 || rep.TempFiles != 2 {
		t.Fatalf("gc --grace 1h right after = %+v, %v; want nothing freed but 2 temporary files, young blobs kept", rep, err)
	}
	time.Sleep(2100 * time.Millisecond) // gc keeps files younger than its clock margin
	rep, err = e.gc.Run(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	// Freed: the replaced package's record and blob, the first
	// publication's metadata files and manifest.
	if rep.Packages != 1 || rep.Blobs < 3 || rep.Bytes == 0 {
		t.Errorf("gc = %+v; want 1 record, the old package blob + metadata", rep)
	}
	intact(t, e)
	for _, p := range []string{crashed, tmpBlob} {
		if _, err := os.Stat(p); err == nil {
			t.Errorf("%s survived gc", p)
		}
	}
	if rep, err := e.gc.Run(ctx, 0); err != nil || rep.Packages != 0 || rep.Blobs != 0 {
		t.Errorf("second gc = %+v, %v; want nothing left to free", rep, err)
	}
}

// TestConcurrentPublishLosesNothing runs gc with no grace period in a loop
// while publishes add, replace, re-publish (reusing records that had just
// become garbage) and prune; every remaining publication must stay whole.
func TestConcurrentPublishLosesNothing(t *testing.T) {
	e := setup(t)
	// A margin just above the kernel's coarse-clock lag, so only the
	// leases and touches keep a publish's files, not a generous margin.
	e.gc.Margin = 50 * time.Millisecond
	files := map[string]string{}
	for _, c := range []string{"x", "y"} {
		files[c] = rpm(t, "flip", c)
	}
	var stop atomic.Bool
	var wg sync.WaitGroup
	var runs atomic.Int64
	wg.Add(1)
	go func() {
		defer wg.Done()
		for !stop.Load() {
			if _, err := e.gc.Run(ctx, 0); err != nil {
				t.Error(err)
				return
			}
			runs.Add(1)
		}
	}()
	for i := 0; i < 30; i++ {
		// Flip one package between two builds, so each publish makes the
		// other build garbage and the next one reuses it.
		c := []string{"x", "y"}[i%2]
		in := []string{files[c], rpm(t, fmt.Sprint("new", i), "n")}
		if _, err := e.pub.Publish(ctx, "r", in, publish.Options{Replace: true}); err != nil {
			stop.Store(true)
			wg.Wait()
			t.Fatalf("publish %d: %v", i, err)
		}
		if i%3 == 2 {
			if _, err := e.pub.Prune(ctx, "r", 1); err != nil {
				t.Fatal(err)
			}
		}
		intact(t, e)
	}
	stop.Store(true)
	wg.Wait()
	if runs.Load() < 3 {
		t.Fatalf("only %d gc runs overlapped the publishes", runs.Load())
	}
	intact(t, e)
	repo, _ := e.st.Repo(ctx, "r")
	pub, _ := e.st.Publication(ctx, repo.Current)
	if pub.Packages != 31 {
		t.Errorf("the current publication holds %d packages, want 31", pub.Packages)
	}
}

// TestKeepsOfferedCompanionDisk: the ISO a repository offers on the portal
// is referenced by its record only; gc keeps it, and frees it once another
// disk replaces it.
func TestKeepsOfferedCompanionDisk(t *testing.T) {
	e := setup(t)
	if _, err := e.pub.Publish(ctx, "r", []string{rpm(t, "hello", "one")}, publish.Options{}); err != nil {
		t.Fatal(err)
	}
	offer := func(content string) string {
		info, err := e.blob.Put(ctx, strings.NewReader(content))
		if err != nil {
			t.Fatal(err)
		}
		rec, _ := bundle.Offered{Repo: "r", Publication: 1, SHA256: info.Sum, Size: info.Size}.Encode()
		if err := e.st.PutSetting(ctx, bundle.OfferSetting("r"), rec); err != nil {
			t.Fatal(err)
		}
		return info.Sum
	}
	first := offer("first ISO")
	e.gc.Margin = time.Millisecond
	time.Sleep(20 * time.Millisecond)
	if _, err := e.gc.Run(ctx, 0); err != nil {
		t.Fatal(err)
	}
	if _, err := e.blob.Stat(ctx, first); err != nil {
		t.Fatalf("gc deleted the offered companion disk: %v", err)
	}
	second := offer("second ISO")
	time.Sleep(20 * time.Millisecond)
	if _, err := e.gc.Run(ctx, 0); err != nil {
		t.Fatal(err)
	}
	if _, err := e.blob.Stat(ctx, first); err == nil {
		t.Error("gc kept a companion disk no record offers any more")
	}
	if _, err := e.blob.Stat(ctx, second); err != nil {
		t.Errorf("gc deleted the offered companion disk: %v", err)
	}
	intact(t, e)
}

func TestKeepsTicketAttachments(t *testing.T) {
	e := setup(t)
	info, err := e.blob.Put(ctx, strings.NewReader("support bundle"))
	if err != nil {
		t.Fatal(err)
	}
	stray, err := e.blob.Put(ctx, strings.NewReader("an attachment whose mail was never stored"))
	if err != nil {
		t.Fatal(err)
	}
	c := store.Contract{SupportID: "ENM-G", Customer: "c", Plan: "server", Products: []string{"p"}, Quantity: 1,
		Start: "2026-01-01", End: "2026-12-31", Contact: "ops@example.jp"}
	if err := e.st.AddContract(ctx, c, nil); err != nil {
		t.Fatal(err)
	}
	_, err = e.st.AddTicket(ctx, store.Ticket{SupportID: "ENM-G", Status: store.TicketOpen, Lang: "ja", Contact: c.Contact,
		OpenedAt: time.Now(), DueAt: time.Now()}, func(store.Ticket) (store.TicketChange, error) {
		return store.TicketChange{Messages: []store.TicketMessage{{Direction: "in", MessageID: "m@x", At: time.Now(),
			Attachments: []store.TicketAttachment{{Filename: "bundle.tar.gz", Size: info.Size, Blob: info.Sum}}}}}, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	e.gc.Margin = time.Millisecond
	time.Sleep(20 * time.Millisecond)
	if _, err := e.gc.Run(ctx, 0); err != nil {
		t.Fatal(err)
	}
	if _, err := e.blob.Stat(ctx, info.Sum); err != nil {
		t.Fatalf("gc deleted a ticket's attachment: %v", err)
	}
	if _, err := e.blob.Stat(ctx, stray.Sum); err == nil {
		t.Error("gc kept a blob nothing references")
	}
}
