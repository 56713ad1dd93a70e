package sign_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/enmei-project/enmei/internal/errs"
	"github.com/enmei-project/enmei/internal/sign"
	"github.com/enmei-project/enmei/internal/store/sqlite"
)

var ctx = context.Background()

// memSettings is an in-memory store.Settings.
type memSettings struct {
	mu sync.Mutex
	m  map[string][]byte
}

func (s *memSettings) Setting(_ context.Context, name string) ([]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	v, ok := s.m[name]
	if !ok {
		return nil, errs.E(errs.NotFound, "no setting %q", name)
	}
	return v, nil
}

func (s *memSettings) PutSettingIfAbsent(_ context.Context, name string, v []byte) ([]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.m == nil {
		s.m = map[string][]byte{}
	}
	if old, ok := s.m[name]; ok {
		return old, nil
	}
	s.m[name] = v
	return v, nil
}

func (s *memSettings) DeleteSetting(_ context.Context, name string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.m, name)
	return nil
}

func custody(t *testing.T, st sign.Settings, dir string) *sign.Custody {
	return &sign.Custody{Store: st, File: filepath.Join(dir, "signing-key.asc"), Bits: 2048, Comment: "test"}
}

func TestCustodyFirstNeed(t *testing.T) {
	st := &memSettings{}
	dir := t.TempDir()
	c := custody(t, st, dir)
	made := 0
	c.Created = func(*sign.Key) { made++ }
	if _, err := c.Public(ctx); !errs.Is(err, errs.NotFound) {
		t.Errorf("Public before any key = %v, want NotFound", err)
	}
	k, err := c.Private(ctx)
	if err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(c.File)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("key file: %v, mode %v; want 0600", err, fi.Mode())
	}
	if strings.Contains(k.UserID(), "localhost") {
		t.Errorf("user ID %q names localhost", k.UserID())
	}
	pub, err := c.Public(ctx)
	if err != nil || pub.Fingerprint() != k.Fingerprint() {
		t.Fatalf("Public = %v, %v; want %s", pub, err, k.Fingerprint())
	}
	for name, v := range st.m {
		if bytes.Contains(v, []byte("PRIVATE")) {
			t.Errorf("setting %s holds private key material", name)
		}
	}
	again, err := c.Private(ctx)
	if err != nil || again.Fingerprint() != k.Fingerprint() {
		t.Errorf("second Private = %v, %v; want the same key", again, err)
	}
	if made != 1 {
		t.Errorf("Created was called %d times for one key made on first need", made)
	}
	// A replica (or a lost file) without the key file must not make a new key.
	other := custody(t, st, t.TempDir())
	if _, err := other.Private(ctx); !errs.Is(err, errs.NotFound) || !strings.Contains(err.Error(), k.Fingerprint()) {
		t.Errorf("Private without the key file = %v; want NotFound naming %s", err, k.Fingerprint())
	}
	if p, err := other.Public(ctx); err != nil || p.Fingerprint() != k.Fingerprint() {
		t.Errorf("Public on a replica without the file = %v, %v", p, err)
	}
	// Generate and Import refuse to replace the key hosts trust.
	if _, err := c.Generate(ctx, "X", "", "x@example.jp", 2048); !errs.Is(err, errs.Exists) {
		t.Errorf("Generate over an existing key = %v, want Exists", err)
	}
	if _, err := other.Generate(ctx, "X", "", "x@example.jp", 2048); !errs.Is(err, errs.Exists) {
		t.Errorf("Generate with the key recorded in the database = %v, want Exists", err)
	}
	os.Chmod(c.File, 0o644)
	if _, err := c.Private(ctx); err == nil || !strings.Contains(err.Error(), "chmod 600") {
		t.Errorf("Private with a world-readable key file = %v", err)
	}
}

func TestCustodyPassphraseAndImport(t *testing.T) {
	src, err := sign.GenerateBits("Example ELS", "", "els@example.jp", 2048, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	armored, err := src.ArmoredPrivateWithPassphrase([]byte("correct horse"))
	if err != nil {
		t.Fatal(err)
	}
	st := &memSettings{}
	c := custody(t, st, t.TempDir())
	if _, err := c.Import(ctx, armored); err == nil || !strings.Contains(err.Error(), "ENMEI_SIGNING_PASSPHRASE") {
		t.Errorf("Import of a protected key without passphrase = %v", err)
	}
	c.Passphrase = []byte("correct horse")
	k, err := c.Import(ctx, armored)
	if err != nil || k.Fingerprint() != src.Fingerprint() || k.UserID() != "Example ELS <els@example.jp>" {
		t.Fatalf("Import = %v, %v", k, err)
	}
	file, _ := os.ReadFile(c.File)
	if _, err := sign.ReadArmored(file); err == nil {
		t.Error("the key file was written without the passphrase")
	}
	c.Passphrase = []byte("wrong")
	if _, err := c.Private(ctx); err == nil || !strings.Contains(err.Error(), "passphrase") {
		t.Errorf("Private with a wrong passphrase = %v", err)
	}
	c.Passphrase = []byte("correct horse")
	if k2, err := c.Private(ctx); err != nil || k2.Fingerprint() != src.Fingerprint() {
		t.Errorf("Private = %v, %v", k2, err)
	}
	if _, err := custody(t, &memSettings{}, t.TempDir()).Import(ctx, []byte("not a key")); !errs.Is(err, errs.Invalid) {
		t.Errorf("Import(junk) = %v, want Invalid", err)
	}
}

// TestMigrationScrubsDatabase: an installation whose private key sits in
// SQLite keeps the same key, in the key file, and no byte of it stays in
// the database file or its WAL.
func TestMigrationScrubsDatabase(t *testing.T) {
	dir := t.TempDir()
	dbPath := filepath.Join(dir, "enmei.db")
	db, err := sqlite.Open(ctx, dbPath)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	old, err := sign.Generate("enmei repository signing key", "enmei@localhost", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	priv, err := old.ArmoredPrivate()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.PutSettingIfAbsent(ctx, "signing-key", priv); err != nil {
		t.Fatal(err)
	}
	// The secret exponent, base64-encoded at each of the three alignments it
	// can have inside the armored text: any of them in the files (newlines
	// removed) means the private key survived. The public part is
	// legitimately in the database and is not looked for.
	d := old.SecretExponentForTest()
	var marks [][]byte
	for shift := 0; shift < 3; shift++ {
		enc := base64.StdEncoding.EncodeToString(d[shift : shift+48])
		marks = append(marks, []byte(enc[2:len(enc)-2]))
	}
	found := func() bool {
		for _, f := range []string{dbPath, dbPath + "-wal"} {
			data, _ := os.ReadFile(f)
			data = bytes.ReplaceAll(data, []byte("\n"), nil)
			for _, m := range marks {
				if bytes.Contains(data, m) {
					return true
				}
			}
		}
		return false
	}
	if !found() {
		t.Fatal("the test cannot see the key in the database files before migrating")
	}
	c := &sign.Custody{Store: db, File: filepath.Join(dir, "signing-key.asc")}
	k, err := c.Private(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if k.Fingerprint() != old.Fingerprint() {
		t.Fatalf("migration changed the key: %s, want %s", k.Fingerprint(), old.Fingerprint())
	}
	if found() {
		t.Error("private key material is still in the SQLite file or its WAL after migrating")
	}
	if _, err := db.Setting(ctx, "signing-key"); !errs.Is(err, errs.NotFound) {
		t.Errorf("legacy setting after migration: %v", err)
	}
}
