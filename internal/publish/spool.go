package publish

import (
	"fmt"
	"os"
	"sync"
)

// spool keeps the index entries and SBOM facts of a publish's prepared
// packages on disk (in the publish's staging directory) between preparing
// and storing them, so a publish of 100,000 packages holds a small record
// per package in memory rather than some kilobytes.
type spool struct {
	mu  sync.Mutex
	f   *os.File
	off int64
}

// span is where spooled bytes are.
type span struct{ at, n int64 }

func newSpool(dir string) (*spool, error) {
	f, err := os.CreateTemp(dir, "spool-*")
	if err != nil {
		return nil, fmt.Errorf("staging: %w", err)
	}
	return &spool{f: f}, nil
}

func (s *spool) put(b []byte) (span, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, err := s.f.WriteAt(b, s.off); err != nil {
		return span{}, fmt.Errorf("staging: %w", err)
	}
	sp := span{s.off, int64(len(b))}
	s.off += sp.n
	return sp, nil
}

func (s *spool) get(sp span) ([]byte, error) {
	if sp.n == 0 {
		return nil, nil
	}
	b := make([]byte, sp.n)
	if _, err := s.f.ReadAt(b, sp.at); err != nil {
		return nil, fmt.Errorf("staging: %w", err)
	}
	return b, nil
}

func (s *spool) close() { s.f.Close() }
