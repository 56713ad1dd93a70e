package inventory

import (
	"context"
	"database/sql"
	"encoding/binary"
	"errors"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/enmei-project/enmei/internal/errs"
)

// readBytes reads data as the rpm database at path (under a new root) and
// fails the test on anything but a result or an error: a panic fails it
// by itself, and a read that does not end within a minute is a hang.
func readBytes(t *testing.T, rel string, data []byte) ([]Package, error) {
	t.Helper()
	root := t.TempDir()
	writeFile(t, filepath.Join(root, rel), string(data))
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	pkgs, _, err := Read(ctx, root)
	if errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("reading %s hung", rel)
	}
	return pkgs, err
}

func fixture(t testing.TB, name string) []byte {
	t.Helper()
	p := filepath.Join(t.TempDir(), "db")
	unxz(t, "rpmdb/"+name, p)
	data, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// TestReadRPMGarbage: files that are no rpm database are errors.
func TestReadRPMGarbage(t *testing.T) {
	random := make([]byte, 64<<10)
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range random {
		random[i] = byte(rng.Uint32())
	}
	for _, c := range []struct {
		name, rel string
		data      []byte
		want      string
	}{
		{"random", "var/lib/rpm/Packages", random, "is damaged: it is neither a SQLite, an NDB nor a Berkeley DB database"},
		{"text", "var/lib/rpm/Packages", []byte("not a database\n"), "is damaged: it is neither"},
		{"empty", "var/lib/rpm/Packages", nil, "is damaged: it is an empty file"},
		{"sqlite header only", "var/lib/rpm/rpmdb.sqlite", append([]byte("SQLite format 3\x00"), random[:4080]...), "is damaged: "},
		{"ndb header only", "var/lib/rpm/Packages.db", []byte("RpmP\x00\x00\x00\x00"), "is damaged: it is shorter than an NDB header"},
		{"bdb metadata only", "var/lib/rpm/Packages", fixture(t, "libuuid-Packages.xz")[:512], "is damaged: it is truncated"},
	} {
		t.Run(c.name, func(t *testing.T) {
			pkgs, err := readBytes(t, c.rel, c.data)
			if err == nil {
				t.Fatalf("read %d packages", len(pkgs))
			}
			if !strings.Contains(err.Error(), c.want) || !errors.Is(err, ErrDamaged) || errs.KindOf(err) != errs.Invalid {
				t.Errorf("err = %q, want %q", err, c.want)
			}
			if !strings.HasPrefix(err.Error(), "the rpm database ") || !strings.Contains(err.Error(), "rpm --rebuilddb") {
				t.Errorf("err = %q", err)
			}
		})
	}
}

// TestReadRPMNotRPMSQLite: a SQLite database without rpm's table.
func TestReadRPMNotRPMSQLite(t *testing.T) {
	root := t.TempDir()
	p := filepath.Join(root, "var/lib/rpm/rpmdb.sqlite")
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	db, err := sql.Open("sqlite", p)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec("CREATE TABLE other (x)"); err != nil {
		t.Fatal(err)
	}
	db.Close()
	_, _, err = Read(context.Background(), root)
	if err == nil || !errors.Is(err, ErrDamaged) || !strings.Contains(err.Error(), "a SQLite database without rpm's Packages table") {
		t.Errorf("err = %v", err)
	}
}

// TestReadRPMTruncated: a database cut anywhere is an error, never a
// shorter list.
func TestReadRPMTruncated(t *testing.T) {
	for _, c := range []struct{ fixture, rel string }{
		{"centos5-plain-Packages.xz", "var/lib/rpm/Packages"},
		{"sle15-bci-Packages.db.xz", "var/lib/rpm/Packages.db"},
	} {
		data := fixture(t, c.fixture)
		for _, frac := range []int{1, 10, 50, 90, 99} {
			n := len(data) * frac / 100
			pkgs, err := readBytes(t, c.rel, data[:n])
			if err == nil || !errors.Is(err, ErrDamaged) {
				t.Errorf("%s cut at %d of %d bytes: %d packages, err %v", c.fixture, n, len(data), len(pkgs), err)
			}
		}
	}
}

// TestReadRPMCorrupted changes bytes all over real databases: every read
// must end, with packages or an error, and never panic or hang.
func TestReadRPMCorrupted(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for _, c := range []struct {
		fixture, rel string
		rounds       int
	}{
		{"libuuid-Packages.xz", "var/lib/rpm/Packages", 300},
		{"sle15-bci-Packages.db.xz", "var/lib/rpm/Packages.db", 60},
	} {
		orig := fixture(t, c.fixture)
		// Change bytes that are in use: most of a database is free space.
		var used []int
		for i, b := range orig {
			if b != 0 {
				used = append(used, i)
			}
		}
		errors, oks := 0, 0
		for range c.rounds {
			data := append([]byte(nil), orig...)
			for range 1 + rng.IntN(8) {
				i := used[rng.IntN(len(used))]
				switch rng.IntN(3) {
				case 0:
					data[i] = byte(rng.Uint32())
				case 1:
					data[i] ^= 0x80
				default: // a length or offset field gone wild
					if i+4 <= len(data) {
						binary.BigEndian.PutUint32(data[i:], rng.Uint32())
					}
				}
			}
			if _, err := readBytes(t, c.rel, data); err != nil {
				errors++
			} else {
				oks++
			}
		}
		t.Logf("%s: %d reads failed cleanly, %d succeeded", c.fixture, errors, oks)
	}
}

// TestCheckHeader: the header checks that keep go-rpmdb's decoder from
// spinning or allocating what a damaged header says.
func TestCheckHeader(t *testing.T) {
	// A header of one string-array entry of two strings.
	blob := func(count uint32, data string) []byte {
		b := binary.BigEndian.AppendUint32(nil, 1)
		b = binary.BigEndian.AppendUint32(b, uint32(len(data)))
		b = binary.BigEndian.AppendUint32(b, 1117) // RPMTAG_BASENAMES
		b = binary.BigEndian.AppendUint32(b, rpmStringArrayType)
		b = binary.BigEndian.AppendUint32(b, 0)
		b = binary.BigEndian.AppendUint32(b, count)
		return append(b, data...)
	}
	if err := checkHeader(blob(2, "a\x00b\x00")); err != nil {
		t.Errorf("a sound header: %v", err)
	}
	for _, c := range []struct {
		name string
		b    []byte
	}{
		{"more strings than there are", blob(3, "a\x00b\x00")},
		{"a count of 2^32-1", blob(0xffffffff, "a\x00b\x00")},
		{"index larger than the blob", append(binary.BigEndian.AppendUint32(nil, 1<<30), blob(2, "a\x00b\x00")[4:]...)},
		{"data shorter than said", blob(2, "a\x00b\x00")[:30]},
		{"no entries", append(binary.BigEndian.AppendUint32(nil, 0), blob(2, "a\x00b\x00")[4:]...)},
		{"too short", []byte{0, 0, 0, 1}},
	} {
		if err := checkHeader(c.b); err == nil {
			t.Errorf("%s: accepted", c.name)
		}
	}
	typ := blob(2, "a\x00b\x00")
	binary.BigEndian.PutUint32(typ[12:], 200)
	if err := checkHeader(typ); err == nil {
		t.Error("an unknown type: accepted")
	}
}

// TestReadRPMBerkeleyDBLoop: a bucket page whose next page is itself.
func TestReadRPMBerkeleyDBLoop(t *testing.T) {
	data := fixture(t, "libuuid-Packages.xz")
	o := binary.LittleEndian
	pageSize := o.Uint32(data[20:])
	pg := o.Uint32(data[96:]) // bucket 0's page: 0 + spares[0]
	page := data[pg*pageSize:]
	if o.Uint32(page[8:]) != pg {
		t.Fatalf("bucket 0 is not on page %d", pg)
	}
	o.PutUint32(page[16:], pg)
	_, err := readBytes(t, "var/lib/rpm/Packages", data)
	if err == nil || !strings.Contains(err.Error(), "its page chains loop") {
		t.Errorf("err = %v", err)
	}
}

// BenchmarkReadRPMBerkeleyDB reads the largest fixture: UBI 8's 11 MB
// database of 183 packages and their file lists.
func BenchmarkReadRPMBerkeleyDB(b *testing.B) {
	root := b.TempDir()
	unxz(b, "rpmdb/ubi8-s390x-Packages.xz", filepath.Join(root, "var/lib/rpm/Packages"))
	ctx := context.Background()
	for b.Loop() {
		pkgs, _, err := Read(ctx, root)
		if err != nil || len(pkgs) != 181 {
			b.Fatal(len(pkgs), err)
		}
	}
}

// headerOf returns the first package header of a fixture.
func headerOf(t testing.TB, name string) []byte {
	t.Helper()
	p := filepath.Join(t.TempDir(), "db")
	unxz(t, "rpmdb/"+name, p)
	f, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var blob []byte
	err = bdbBlobs(context.Background(), f, func(b []byte) error {
		if blob == nil {
			blob = append([]byte(nil), b...)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return blob
}

// decodeHeader runs one header through the staging and go-rpmdb as
// readRPM does.
func decodeHeader(t testing.TB, blob []byte) ([]Package, error) {
	if err := checkHeader(blob); err != nil {
		return nil, err
	}
	st, err := newStage("") // removed below; t.TempDir per input slows fuzzing down
	if err != nil {
		t.Fatal(err)
	}
	defer st.remove()
	if err := st.add(blob); err != nil {
		t.Fatal(err)
	}
	if err := st.finish(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	infos, err := listPackages(ctx, st.f.Name())
	if errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("go-rpmdb hung on header %x", blob)
	}
	if err != nil {
		return nil, err
	}
	var pkgs []Package
	for _, info := range infos {
		p, _, err := fromRPMDB(info, true)
		if err != nil {
			return nil, err
		}
		pkgs = append(pkgs, p)
	}
	return pkgs, nil
}

// FuzzHeader feeds changed package headers to go-rpmdb the way readRPM
// does: whatever the header, the result is packages or an error.
func FuzzHeader(f *testing.F) {
	blob := headerOf(f, "libuuid-Packages.xz")
	f.Add(blob)
	f.Add(blob[:len(blob)/2])
	f.Fuzz(func(t *testing.T, b []byte) {
		decodeHeader(t, b)
	})
}

// TestGoRpmdbPanicIsAnError: go-rpmdb v0.1.1 indexes a package's
// directory names with its DIRINDEXES unchecked, so a negative index
// panics (found by FuzzHeader); Read turns that into an error.
func TestGoRpmdbPanicIsAnError(t *testing.T) {
	blob := headerOf(t, "libuuid-Packages.xz")
	il := binary.BigEndian.Uint32(blob)
	data := blob[8+16*il:]
	found := false
	for i := range il {
		e := blob[8+16*i:]
		if binary.BigEndian.Uint32(e) == 1116 { // RPMTAG_DIRINDEXES
			binary.BigEndian.PutUint32(data[binary.BigEndian.Uint32(e[8:]):], 0xffff0000)
			found = true
		}
	}
	if !found {
		t.Fatal("no DIRINDEXES")
	}
	if _, err := decodeHeader(t, blob); err == nil || !errors.Is(err, ErrDamaged) || !strings.Contains(err.Error(), "index out of range") {
		t.Errorf("err = %v", err)
	}
	// The same header in a database: an error for the whole read.
	root := t.TempDir()
	path := filepath.Join(root, "var/lib/rpm/rpmdb.sqlite")
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec("CREATE TABLE Packages (hnum INTEGER PRIMARY KEY AUTOINCREMENT, blob BLOB NOT NULL)"); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec("INSERT INTO Packages (blob) VALUES (?), (?)", headerOf(t, "libuuid-Packages.xz"), blob); err != nil {
		t.Fatal(err)
	}
	pkgs, _, err := Read(context.Background(), root)
	if err == nil || !errors.Is(err, ErrDamaged) || !strings.Contains(err.Error(), "the file list of libuuid is damaged") {
		t.Errorf("%d packages, err = %v", len(pkgs), err)
	}
}

// FuzzBerkeleyDB reads changed Berkeley DB files: whatever the bytes, the
// walk ends with headers or an error.
func FuzzBerkeleyDB(f *testing.F) {
	f.Add(fixture(f, "libuuid-Packages.xz"))
	f.Fuzz(func(t *testing.T, data []byte) {
		p := filepath.Join(t.TempDir(), "Packages")
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		file, err := os.Open(p)
		if err != nil {
			t.Fatal(err)
		}
		defer file.Close()
		total := 0
		bdbBlobs(context.Background(), file, func(b []byte) error {
			if total += len(b); total > 64*len(data)+1<<20 {
				t.Fatalf("%d bytes of headers from a %d-byte file", total, len(data))
			}
			return nil
		})
	})
}
