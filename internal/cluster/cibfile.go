package cluster

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"

	"golang.org/x/sys/unix"
)

// LockCIBFile takes an exclusive flock on path+".lock" and returns the
// function that releases it, waiting for other holders until ctx ends.
//
// With CIB_file=… the Pacemaker tools have no CIB manager to serialise
// them: each reads the whole file, changes it in memory and writes it back
// in place (open with O_TRUNC, then write), so two writers lose each
// other's changes and a reader can see half a file — which crm_mon, in
// libxml2's recovery mode, may even take for a smaller, valid cluster.
// Every writer of a CIB file in enmei (the Pacemaker adapter around each of
// its tool calls, and clustertest's simulator) holds this lock, which is
// what a live cluster's CIB manager gives for free. A directory where the
// lock file cannot be created (read-only) is used without the lock: there
// can be no writer there.
func LockCIBFile(ctx context.Context, path string) (unlock func(), err error) {
	f, err := os.OpenFile(path+".lock", os.O_RDWR|os.O_CREATE, 0o600)
	if errors.Is(err, fs.ErrPermission) || errors.Is(err, unix.EROFS) {
		return func() {}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("opening the CIB file lock: %w", err)
	}
	// A blocking flock, in a goroutine so that ctx can end the wait: the
	// kernel wakes waiters as soon as the lock is released, where polling
	// with LOCK_NB lets a process that locks again at once starve the others.
	got := make(chan error, 1)
	go func() {
		var err error
		for {
			if err = unix.Flock(int(f.Fd()), unix.LOCK_EX); err != unix.EINTR {
				break
			}
		}
		got <- err
	}()
	select {
	case err := <-got:
		if err != nil {
			f.Close()
			return nil, fmt.Errorf("locking %s.lock: %w", path, err)
		}
		return func() { unix.Flock(int(f.Fd()), unix.LOCK_UN); f.Close() }, nil
	case <-ctx.Done():
		// The goroutine still waits; it releases the lock once it gets it.
		go func() {
			if <-got == nil {
				unix.Flock(int(f.Fd()), unix.LOCK_UN)
			}
			f.Close()
		}()
		return nil, fmt.Errorf("waiting for the lock on the CIB file %s: %w", path, ctx.Err())
	}
}
