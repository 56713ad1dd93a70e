// Package gc frees what no publication or offered companion disk references
// any more: package records, blobs, and the temporary files of publishes
// that crashed. It is a
// mark-and-sweep that is safe while enmeid serves and publishes: everything
// a publish stores or reuses is marked as used at that moment (blob touch,
// record upsert), every publish holds a lease from before its first lookup
// until its commit, and the sweep deletes only what was last used before the
// grace period and before the oldest lease — so a publish in flight never
// loses a blob or record it is about to reference.
package gc

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/enmei-project/enmei/internal/advisory/csaf"
	"github.com/enmei-project/enmei/internal/blob"
	"github.com/enmei-project/enmei/internal/bundle"
	"github.com/enmei-project/enmei/internal/errs"
	"github.com/enmei-project/enmei/internal/manifest"
	"github.com/enmei-project/enmei/internal/store"
)

// Store is what gc needs of the store.
type Store interface {
	Publications(ctx context.Context, repoID string) ([]store.Publication, error)
	PackageIDs(ctx context.Context, f func(id, blob string) error) error
	DeletePackages(ctx context.Context, ids []string, before time.Time) (int, error)
	OldestLease(ctx context.Context, now time.Time) (time.Time, error)
	Setting(ctx context.Context, name string) ([]byte, error)
	AttachmentBlobs(ctx context.Context, f func(blob string) error) error
}

// clockMargin is how much earlier than the lease or grace boundary a file's
// time must be for gc to delete it.
const clockMargin = 2 * time.Second

// Collector collects garbage.
type Collector struct {
	Store Store
	Blobs blob.Store
	Now   func() time.Time
	Log   *slog.Logger
	// StagingDirs hold publishes' staging directories (enmei-publish-*).
	StagingDirs []string
	// Margin is how much older than the cut-off a file must be (default
	// 2 s); tests shrink it.
	Margin time.Duration
}

// Report says what a run freed.
type Report struct {
	Cutoff       time.Time `json:"cutoff"` // only what was last used before this was freed
	Publications int       `json:"publications"`
	Packages     int       `json:"packages_deleted"`
	Blobs        int       `json:"blobs_deleted"`
	Bytes        int64     `json:"bytes_freed"`
	TempFiles    int       `json:"temp_files_deleted"`
	KeptYoung    int       `json:"blobs_kept_young"` // unreferenced, but used within the grace period
}

// Run marks everything the remaining publications reference and sweeps the
// rest that was last used before now-grace (or before the oldest publish in
// flight, if that is earlier).
func (c *Collector) Run(ctx context.Context, grace time.Duration) (Report, error) {
	if grace < 0 {
		return Report{}, fmt.Errorf("the grace period must not be negative (%s)", grace)
	}
	now := time.Now
	if c.Now != nil {
		now = c.Now
	}
	log := c.Log
	if log == nil {
		log = slog.Default()
	}
	start := now()
	cutoff := start.Add(-grace)
	oldest, err := c.Store.OldestLease(ctx, start)
	if err != nil {
		return Report{}, err
	}
	if !oldest.IsZero() && oldest.Before(cutoff) {
		cutoff = oldest
	}
	// File times come from the kernel's coarse clock (and S3 keeps whole
	// seconds): a file written just after a lease began can carry an
	// earlier time. The margin keeps such files.
	margin := c.Margin
	if margin == 0 {
		margin = clockMargin
	}
	cutoff = cutoff.Add(-margin)
	rep := Report{Cutoff: cutoff}

	// Mark.
	pubs, err := c.Store.Publications(ctx, "")
	if err != nil {
		return rep, fmt.Errorf("gc: listing publications: %w", err)
	}
	rep.Publications = len(pubs)
	keepBlob := map[string]bool{}
	keepPkg := map[string]bool{}
	for _, p := range pubs {
		m, err := manifest.Load(ctx, c.Blobs, p.Manifest)
		if err != nil {
			// A publication whose manifest cannot be read stops the sweep:
			// without it, gc cannot know what is referenced.
			return rep, fmt.Errorf("gc: publication %d of %s: %w; nothing was deleted", p.ID, p.RepoID, err)
		}
		keepBlob[p.Manifest] = true
		for _, f := range m.Files {
			keepBlob[f.Sum] = true
		}
		for _, f := range m.Upstream {
			keepBlob[f.Sum] = true
		}
		for _, id := range m.Packages {
			keepPkg[id] = true
		}
	}
	// The companion disk each repository offers on the portal.
	repos := map[string]bool{}
	for _, p := range pubs {
		if repos[p.RepoID] {
			continue
		}
		repos[p.RepoID] = true
		raw, err := c.Store.Setting(ctx, bundle.OfferSetting(p.RepoID))
		if errs.Is(err, errs.NotFound) {
			continue
		}
		if err != nil {
			return rep, fmt.Errorf("gc: the companion disk of %s: %w; nothing was deleted", p.RepoID, err)
		}
		o, err := bundle.DecodeOffered(raw)
		if err != nil {
			return rep, fmt.Errorf("gc: the companion disk of %s: %w; nothing was deleted", p.RepoID, err)
		}
		keepBlob[o.SHA256] = true
	}

	// The signed CSAF tree the tracker serves.
	if m, sum, err := csaf.LoadStored(ctx, c.Store, c.Blobs); err != nil {
		return rep, fmt.Errorf("gc: the CSAF documents: %w; nothing was deleted", err)
	} else if m != nil {
		keepBlob[sum] = true
		for _, s := range m.Sums() {
			keepBlob[s] = true
		}
	}

	// Files customers attached to support tickets.
	if err := c.Store.AttachmentBlobs(ctx, func(sum string) error { keepBlob[sum] = true; return nil }); err != nil {
		return rep, fmt.Errorf("gc: ticket attachments: %w; nothing was deleted", err)
	}

	// Sweep records, then the blobs no remaining record or publication names.
	var doomed []string
	err = c.Store.PackageIDs(ctx, func(id, _ string) error {
		if !keepPkg[id] {
			doomed = append(doomed, id)
		}
		return nil
	})
	if err != nil {
		return rep, fmt.Errorf("gc: listing package records: %w", err)
	}
	if rep.Packages, err = c.Store.DeletePackages(ctx, doomed, cutoff); err != nil {
		return rep, fmt.Errorf("gc: %w", err)
	}
	err = c.Store.PackageIDs(ctx, func(_, b string) error {
		keepBlob[b] = true // a record kept because it was used recently keeps its blob
		return nil
	})
	if err != nil {
		return rep, fmt.Errorf("gc: listing package records: %w", err)
	}
	var candidates []blob.Info
	err = c.Blobs.Walk(ctx, func(i blob.Info) error {
		if !keepBlob[i.Sum] {
			candidates = append(candidates, i)
		}
		return nil
	})
	if err != nil {
		return rep, fmt.Errorf("gc: listing blobs: %w", err)
	}
	for _, i := range candidates {
		gone, err := c.Blobs.Delete(ctx, i.Sum, cutoff)
		if err != nil {
			return rep, fmt.Errorf("gc: %w", err)
		}
		if gone {
			rep.Blobs++
			rep.Bytes += i.Size
		} else {
			rep.KeptYoung++
		}
	}

	// Temporary files of writes and publishes that crashed.
	n, err := c.Blobs.CleanTemp(ctx, cutoff)
	if err != nil {
		return rep, fmt.Errorf("gc: %w", err)
	}
	rep.TempFiles += n
	for _, dir := range c.StagingDirs {
		entries, err := os.ReadDir(dir)
		if err != nil {
			continue // no staging directory yet
		}
		for _, e := range entries {
			fi, err := e.Info()
			if err != nil || !strings.HasPrefix(e.Name(), "enmei-publish-") || !fi.ModTime().Before(cutoff) {
				continue
			}
			if err := os.RemoveAll(filepath.Join(dir, e.Name())); err == nil {
				rep.TempFiles++
			}
		}
	}
	log.Debug("gc done", "publications", rep.Publications, "packages_deleted", rep.Packages,
		"blobs_deleted", rep.Blobs, "bytes_freed", rep.Bytes, "temp_files_deleted", rep.TempFiles, "cutoff", cutoff)
	return rep, nil
}
