// Package fuzzutil holds what the fuzz targets of enmei's parsers share: an
// allocation budget that catches parsers allocating what a header claims
// rather than what the input holds, and the committed seed corpus, checked
// against the inputs it is made from (or rewritten on request).
package fuzzutil

import (
	"os"
	"path/filepath"
	"runtime/metrics"
	"testing"
)

// HeapAllocs is the cumulative number of bytes allocated on the heap; read
// through runtime/metrics because, unlike ReadMemStats, it does not stop the
// world on every fuzzing exec.
func HeapAllocs() uint64 {
	s := []metrics.Sample{{Name: "/gc/heap/allocs:bytes"}}
	metrics.Read(s)
	return s[0].Value.Uint64()
}

// PerByte is the allocation allowed per input byte: parsed structures take
// more room than their bytes.
const PerByte = 64

// CheckAllocs fails if more was allocated since before than a parser of n
// input bytes needs: fixed (decoder state, signing) plus PerByte per byte.
func CheckAllocs(t *testing.T, before uint64, n int, fixed uint64) {
	t.Helper()
	if got := HeapAllocs() - before; got > fixed+PerByte*uint64(n) {
		t.Fatalf("allocated %d bytes for %d bytes of input", got, n)
	}
}

// WriteEnv names the environment variable that makes Seed rewrite seeds.
const WriteEnv = "ENMEI_WRITE_FUZZ_CORPUS"

// Seed checks that testdata/fuzz/<target>/seed-<name> holds body (a corpus
// file in the "go test fuzz v1" format), or writes it when WriteEnv is set.
func Seed(t *testing.T, target, name, body string) {
	t.Helper()
	path := filepath.Join("testdata", "fuzz", target, "seed-"+name)
	if os.Getenv(WriteEnv) != "" {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	if got, err := os.ReadFile(path); err != nil || string(got) != body {
		t.Errorf("%s is missing or stale (%v): run %s=1 go test -run TestFuzzCorpus and commit the seeds", path, err, WriteEnv)
	}
}
