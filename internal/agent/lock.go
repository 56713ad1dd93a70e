package agent

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"golang.org/x/sys/unix"
)

// lockPath is the file register and unregister hold an exclusive flock on,
// so two runs cannot interleave their server calls and file writes. It
// stays after unregister, like dpkg's lock: removing a lock file others may
// be waiting on would let two runs hold "the" lock at once.
const lockPath = "/var/lib/enmei/lock"

// lockWait bounds how long a run waits for another to finish.
var lockWait = 30 * time.Second

// lock takes the host's enmei lock, waiting up to lockWait; the returned
// function releases it.
func lock(ctx context.Context, root string) (func(), error) {
	p := filepath.Join(root, lockPath)
	if err := mkdirAll(filepath.Dir(p)); err != nil {
		return nil, fmt.Errorf("creating %s: %w", filepath.Dir(lockPath), err)
	}
	f, err := os.OpenFile(p, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("opening the lock file %s: %w", lockPath, err)
	}
	deadline := time.Now().Add(lockWait)
	for {
		err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB)
		if err == nil {
			return func() { unix.Flock(int(f.Fd()), unix.LOCK_UN); f.Close() }, nil
		}
		if err != unix.EWOULDBLOCK && err != unix.EINTR {
			f.Close()
			return nil, fmt.Errorf("locking %s: %w", lockPath, err)
		}
		if time.Now().After(deadline) {
			f.Close()
			return nil, fmt.Errorf("another enmei register or unregister has held %s for %v: wait until it finishes, then run this command again", lockPath, lockWait)
		}
		select {
		case <-ctx.Done():
			f.Close()
			return nil, fmt.Errorf("waiting for %s: %w", lockPath, ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
}
