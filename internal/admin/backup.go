package admin

import (
	"archive/tar"
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/spf13/cobra"

	"github.com/enmei-project/enmei/internal/blob"
	"github.com/enmei-project/enmei/internal/errs"
	"github.com/enmei-project/enmei/internal/store"
	"github.com/enmei-project/enmei/internal/version"
)

// A backup is one tar.gz: enmei-backup.json (what it holds), then
// db/<table>.jsonl (a header line with the columns, then one JSON array per
// row: numbers, strings, {"b": base64} for bytes, null), then, only with
// --include-keys, keys.pgp: the key files in a tar encrypted with a
// passphrase (OpenPGP, so `gpg -d` opens it too), then blobs/<sha256> for
// every blob (or blobs.manifest with --no-blobs). The database is read in
// one consistent transaction first and the blobs copied after it: blobs are
// immutable and written before anything refers to them, so every blob the
// snapshot names is there, and a publish running meanwhile is in the
// backup whole or not at all.

const backupFormat = 1

type backupMeta struct {
	Format        int            `json:"format"`
	Created       time.Time      `json:"created"`
	Version       string         `json:"enmeid_version"`
	SchemaVersion int            `json:"schema_version"`
	Tables        map[string]int `json:"tables"` // rows per table
	Blobs         string         `json:"blobs"`  // "included" or "manifest"
	BlobCount     int            `json:"blob_count"`
	Keys          []string       `json:"keys,omitempty"` // key files in keys.pgp
}

func (a *app) backupCommand() *cobra.Command {
	var out string
	var noBlobs, keys bool
	cmd := &cobra.Command{
		Use:   "backup --out FILE [--no-blobs] [--include-keys]",
		Short: "take a consistent backup (database snapshot and blobs) while the server serves and publishes",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			pass := a.env("ENMEI_BACKUP_PASSPHRASE")
			if keys && len(pass) < 12 {
				return usagef("--include-keys encrypts the key files with ENMEI_BACKUP_PASSPHRASE: set it (at least 12 characters)")
			}
			if err := a.open(ctx); err != nil {
				return err
			}
			meta, err := a.backup(ctx, out, noBlobs, keys, pass)
			if err != nil {
				return err
			}
			if a.cfg.JSON {
				return a.printJSON(map[string]any{"backup": out, "schema_version": meta.SchemaVersion, "tables": meta.Tables,
					"blobs": meta.Blobs, "blob_count": meta.BlobCount, "keys": meta.Keys})
			}
			rows := 0
			for _, n := range meta.Tables {
				rows += n
			}
			fmt.Fprintf(a.stdout, "%s: %d rows in %d tables (schema %d), %d blobs (%s), key files: %d\n",
				out, rows, len(meta.Tables), meta.SchemaVersion, meta.BlobCount, meta.Blobs, len(meta.Keys))
			if !keys {
				fmt.Fprintln(a.stderr, "The backup holds no private key: keep the signing key file (and ca-key.pem) safe apart, or pass --include-keys.")
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&out, "out", "", "the backup file to write (.tar.gz; mode 0600)")
	cmd.Flags().BoolVar(&noBlobs, "no-blobs", false, "list the blobs instead of copying them (when they live in S3 with its own versioning)")
	cmd.Flags().BoolVar(&keys, "include-keys", false, "also the signing key and CA key files, encrypted with ENMEI_BACKUP_PASSPHRASE")
	cmd.MarkFlagRequired("out")
	return cmd
}

// backup writes the backup to out via a temporary file renamed into place.
func (a *app) backup(ctx context.Context, out string, noBlobs, keys bool, pass string) (backupMeta, error) {
	meta := backupMeta{Format: backupFormat, Created: a.now().UTC(), Version: version.Get().Version, Tables: map[string]int{}, Blobs: "included"}
	if noBlobs {
		meta.Blobs = "manifest"
	}
	scratch, err := os.MkdirTemp(filepath.Dir(out), ".backup-*")
	if err != nil {
		return meta, fmt.Errorf("backup: %w", err)
	}
	defer os.RemoveAll(scratch)

	// 1. The database, in one consistent read, table by table to files.
	var tables []string
	err = a.st.Snapshot(ctx, func(d store.TableDump) error {
		meta.SchemaVersion = d.SchemaVersion
		f, err := os.Create(filepath.Join(scratch, d.Name+".jsonl"))
		if err != nil {
			return err
		}
		defer f.Close()
		w := bufio.NewWriter(f)
		enc := json.NewEncoder(w)
		if err := enc.Encode(map[string]any{"columns": d.Columns}); err != nil {
			return err
		}
		n := 0
		for {
			row, err := d.Next()
			if err != nil {
				return err
			}
			if row == nil {
				break
			}
			for i, v := range row {
				if b, ok := v.([]byte); ok {
					row[i] = map[string]string{"b": base64.StdEncoding.EncodeToString(b)}
				}
			}
			if err := enc.Encode(row); err != nil {
				return err
			}
			n++
		}
		meta.Tables[d.Name] = n
		tables = append(tables, d.Name)
		return w.Flush()
	})
	if err != nil {
		return meta, fmt.Errorf("backup: the database: %w", err)
	}

	// 2. The key files, encrypted.
	var keyData []byte
	if keys {
		keyData, meta.Keys, err = a.encryptKeys(pass)
		if err != nil {
			return meta, err
		}
	}

	// 3. The blobs that exist now, after the snapshot.
	var blobs []blob.Info
	if err := a.blobs.Walk(ctx, func(i blob.Info) error { blobs = append(blobs, i); return nil }); err != nil {
		return meta, fmt.Errorf("backup: listing blobs: %w", err)
	}
	meta.BlobCount = len(blobs)

	tmp, err := os.CreateTemp(filepath.Dir(out), ".backup-*.tar.gz")
	if err != nil {
		return meta, fmt.Errorf("backup: %w", err)
	}
	defer os.Remove(tmp.Name())
	defer tmp.Close()
	if err := tmp.Chmod(0o600); err != nil {
		return meta, err
	}
	gz := gzip.NewWriter(tmp)
	tw := tar.NewWriter(gz)
	add := func(name string, size int64, r io.Reader) error {
		if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o600, Size: size, ModTime: meta.Created, Typeflag: tar.TypeReg}); err != nil {
			return err
		}
		_, err := io.Copy(tw, r)
		return err
	}
	mb, _ := json.MarshalIndent(meta, "", "  ")
	if err := add("enmei-backup.json", int64(len(mb)), bytes.NewReader(mb)); err != nil {
		return meta, err
	}
	for _, t := range tables {
		f, err := os.Open(filepath.Join(scratch, t+".jsonl"))
		if err != nil {
			return meta, err
		}
		fi, _ := f.Stat()
		err = add("db/"+t+".jsonl", fi.Size(), f)
		f.Close()
		if err != nil {
			return meta, fmt.Errorf("backup: %w", err)
		}
	}
	// The keys before the blobs, so a restore checks the passphrase
	// before it writes anything.
	if keys {
		if err := add("keys.pgp", int64(len(keyData)), bytes.NewReader(keyData)); err != nil {
			return meta, err
		}
	}
	if noBlobs {
		var m strings.Builder
		for _, b := range blobs {
			fmt.Fprintf(&m, "%s %d\n", b.Sum, b.Size)
		}
		if err := add("blobs.manifest", int64(m.Len()), strings.NewReader(m.String())); err != nil {
			return meta, err
		}
	} else {
		for i, b := range blobs {
			r, info, err := a.blobs.Open(ctx, b.Sum)
			if errs.Is(err, errs.NotFound) {
				continue // collected since the listing: nothing refers to it
			}
			if err != nil {
				return meta, fmt.Errorf("backup: blob %s: %w", b.Sum, err)
			}
			err = add("blobs/"+b.Sum, info.Size, r)
			r.Close()
			if err != nil {
				return meta, fmt.Errorf("backup: blob %s: %w", b.Sum, err)
			}
			a.progress("backup: blobs", i+1, len(blobs))
		}
	}
	if err := tw.Close(); err != nil {
		return meta, err
	}
	if err := gz.Close(); err != nil {
		return meta, err
	}
	if err := tmp.Sync(); err != nil {
		return meta, err
	}
	if err := tmp.Close(); err != nil {
		return meta, err
	}
	return meta, os.Rename(tmp.Name(), out)
}

// progress shows long work on a terminal.
func (a *app) progress(what string, n, total int) {
	f, ok := a.stderr.(*os.File)
	if !ok || total < 100 {
		return
	}
	if fi, err := f.Stat(); err != nil || fi.Mode()&os.ModeCharDevice == 0 {
		return
	}
	if n%50 == 0 || n == total {
		fmt.Fprintf(f, "\r%s %d/%d", what, n, total)
		if n == total {
			fmt.Fprintln(f)
		}
	}
}

// keyFiles are the private key files a backup may carry.
func (a *app) keyFiles() map[string]string {
	return map[string]string{"signing-key.asc": a.cfg.SigningKey, "ca-key.pem": a.caKeyFile()}
}

func (a *app) encryptKeys(pass string) ([]byte, []string, error) {
	var plain bytes.Buffer
	tw := tar.NewWriter(&plain)
	var names []string
	for name, path := range a.keyFiles() {
		b, err := os.ReadFile(path)
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, nil, fmt.Errorf("backup: %w", err)
		}
		if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o600, Size: int64(len(b)), Typeflag: tar.TypeReg}); err != nil {
			return nil, nil, err
		}
		tw.Write(b)
		names = append(names, name)
	}
	tw.Close()
	var enc bytes.Buffer
	w, err := openpgp.SymmetricallyEncrypt(&enc, []byte(pass), nil, nil)
	if err != nil {
		return nil, nil, err
	}
	w.Write(plain.Bytes())
	if err := w.Close(); err != nil {
		return nil, nil, err
	}
	return enc.Bytes(), names, nil
}

func (a *app) restoreCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "restore FILE",
		Short: "restore a backup into an empty database, blob store and data directory",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			if err := a.open(ctx); err != nil {
				return err
			}
			meta, err := a.restore(ctx, args[0])
			if err != nil {
				return err
			}
			if a.cfg.JSON {
				return a.printJSON(map[string]any{"restored": args[0], "schema_version": meta.SchemaVersion, "tables": meta.Tables,
					"blobs": meta.Blobs, "blob_count": meta.BlobCount, "keys": meta.Keys})
			}
			fmt.Fprintf(a.stdout, "restored %s (taken %s, schema %d): %d tables, %d blobs, key files: %d\n",
				args[0], meta.Created.Format(time.RFC3339), meta.SchemaVersion, len(meta.Tables), meta.BlobCount, len(meta.Keys))
			return nil
		},
	}
}

func (a *app) restore(ctx context.Context, file string) (meta backupMeta, err error) {
	// Blobs put before a later failure are removed again: a refused
	// restore leaves the storage as empty as it was.
	var put []string
	defer func() {
		if err == nil {
			return
		}
		for _, sum := range put {
			a.blobs.Delete(context.WithoutCancel(ctx), sum, time.Now().Add(time.Hour))
		}
	}()
	f, err := os.Open(file)
	if err != nil {
		return meta, usagef("%v", err)
	}
	defer f.Close()
	gz, err := gzip.NewReader(f)
	if err != nil {
		return meta, errs.E(errs.Invalid, "%s is not an enmei backup (not gzip): %v", file, err)
	}
	tr := tar.NewReader(gz)
	hdr, err := tr.Next()
	if err != nil || hdr.Name != "enmei-backup.json" {
		return meta, errs.E(errs.Invalid, "%s is not an enmei backup (no enmei-backup.json first)", file)
	}
	if err := json.NewDecoder(io.LimitReader(tr, 1<<20)).Decode(&meta); err != nil || meta.Format != backupFormat {
		return meta, errs.E(errs.Invalid, "%s is not an enmei backup of a format this enmeid reads", file)
	}
	have, err := a.st.SchemaVersion(ctx)
	if err != nil {
		return meta, err
	}
	if meta.SchemaVersion > have {
		return meta, errs.E(errs.Invalid, "the backup's schema (%d) is newer than this enmeid's (%d): restore with enmeid %s or newer", meta.SchemaVersion, have, meta.Version)
	}
	// Only into empty storage: nothing is overwritten or merged.
	if empty, err := a.st.Empty(ctx); err != nil {
		return meta, err
	} else if !empty {
		return meta, errs.E(errs.Exists, "the database %s is not empty: restore into an empty one", Redact(a.cfg.DB))
	}
	if meta.Blobs == "included" {
		stop := errors.New("found")
		if err := a.blobs.Walk(ctx, func(blob.Info) error { return stop }); err == stop {
			return meta, errs.E(errs.Exists, "the blob store %s is not empty: restore into an empty one", Redact(a.cfg.Blobs))
		} else if err != nil {
			return meta, err
		}
	}
	if len(meta.Keys) > 0 && a.env("ENMEI_BACKUP_PASSPHRASE") == "" {
		return meta, usagef("the backup holds key files (%s): set ENMEI_BACKUP_PASSPHRASE to the passphrase it was taken with", strings.Join(meta.Keys, ", "))
	}
	var tables []store.TableRows
	var missing []string
	var keyFiles map[string][]byte
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return meta, errs.E(errs.Invalid, "%s is damaged: %v; nothing was restored into the database", file, err)
		}
		switch {
		case strings.HasPrefix(hdr.Name, "db/") && strings.HasSuffix(hdr.Name, ".jsonl"):
			t, err := readTable(strings.TrimSuffix(strings.TrimPrefix(hdr.Name, "db/"), ".jsonl"), tr)
			if err != nil {
				return meta, errs.E(errs.Invalid, "%s is damaged (%s): %v; nothing was restored into the database", file, hdr.Name, err)
			}
			tables = append(tables, t)
		case strings.HasPrefix(hdr.Name, "blobs/"):
			sum := strings.TrimPrefix(hdr.Name, "blobs/")
			if err := blob.CheckSum(sum); err != nil {
				return meta, errs.E(errs.Invalid, "%s is damaged: %v", file, err)
			}
			info, err := a.blobs.Put(ctx, tr)
			if err != nil {
				return meta, fmt.Errorf("restoring blob %s: %w", sum, err)
			}
			put = append(put, info.Sum)
			if info.Sum != sum {
				return meta, errs.E(errs.Invalid, "%s is damaged: blob %s holds other content (%s); nothing was restored into the database", file, sum, info.Sum)
			}
		case hdr.Name == "blobs.manifest":
			sc := bufio.NewScanner(tr)
			for sc.Scan() {
				sum, _, _ := strings.Cut(sc.Text(), " ")
				if _, err := a.blobs.Stat(ctx, sum); errs.Is(err, errs.NotFound) {
					missing = append(missing, sum)
				} else if err != nil {
					return meta, err
				}
			}
		case hdr.Name == "keys.pgp":
			if keyFiles, err = a.decryptKeys(tr); err != nil {
				return meta, err
			}
		}
	}
	if len(missing) > 0 {
		return meta, errs.E(errs.NotFound, "%d blobs the backup lists are not in %s (e.g. %s): point --blobs at the store the backup was taken with, or restore its objects first; nothing was restored into the database",
			len(missing), Redact(a.cfg.Blobs), missing[0])
	}
	files := a.keyFiles()
	for name := range keyFiles {
		if _, err := os.Stat(files[name]); err == nil {
			return meta, errs.E(errs.Exists, "%s exists: restore the key files into a data directory without them; nothing was restored into the database", files[name])
		}
	}
	if err := a.st.Load(ctx, tables); err != nil {
		return meta, fmt.Errorf("restoring the database: %w", err)
	}
	// The keys last, once the database is in: a refused restore leaves none.
	for name, b := range keyFiles {
		if err := os.MkdirAll(filepath.Dir(files[name]), 0o700); err != nil {
			return meta, err
		}
		if err := os.WriteFile(files[name], b, 0o600); err != nil {
			return meta, fmt.Errorf("the database is restored, but key file %s could not be written: %w", files[name], err)
		}
	}
	return meta, nil
}

func readTable(name string, r io.Reader) (store.TableRows, error) {
	t := store.TableRows{Name: name}
	dec := json.NewDecoder(r)
	dec.UseNumber()
	var head struct{ Columns []string }
	if err := dec.Decode(&head); err != nil || len(head.Columns) == 0 {
		return t, fmt.Errorf("no column line")
	}
	t.Columns = head.Columns
	for dec.More() {
		var raw []any
		if err := dec.Decode(&raw); err != nil {
			return t, err
		}
		if len(raw) != len(t.Columns) {
			return t, fmt.Errorf("a row of %d values for %d columns", len(raw), len(t.Columns))
		}
		for i, v := range raw {
			switch x := v.(type) {
			case json.Number:
				n, err := x.Int64()
				if err != nil {
					return t, fmt.Errorf("value %s is not an integer", x)
				}
				raw[i] = n
			case map[string]any:
				s, _ := x["b"].(string)
				b, err := base64.StdEncoding.DecodeString(s)
				if err != nil {
					return t, err
				}
				raw[i] = b
			}
		}
		t.Rows = append(t.Rows, raw)
	}
	return t, nil
}

// decryptKeys decrypts keys.pgp with ENMEI_BACKUP_PASSPHRASE and returns
// the key files it holds.
func (a *app) decryptKeys(r io.Reader) (map[string][]byte, error) {
	pass := a.env("ENMEI_BACKUP_PASSPHRASE")
	tried := false
	md, err := openpgp.ReadMessage(r, nil, func([]openpgp.Key, bool) ([]byte, error) {
		if tried {
			return nil, errs.E(errs.Invalid, "ENMEI_BACKUP_PASSPHRASE is not the passphrase of the backup's key files; nothing was restored into the database")
		}
		tried = true
		return []byte(pass), nil
	}, nil)
	if err != nil {
		return nil, fmt.Errorf("the backup's key files: %w", err)
	}
	tr := tar.NewReader(md.UnverifiedBody)
	known := a.keyFiles()
	out := map[string][]byte{}
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("the backup's key files: %w", err)
		}
		if _, ok := known[hdr.Name]; !ok {
			continue
		}
		b, err := io.ReadAll(io.LimitReader(tr, 1<<20))
		if err != nil {
			return nil, err
		}
		out[hdr.Name] = b
	}
	// Reading to the end checks the message's integrity (MDC).
	if _, err := io.Copy(io.Discard, md.UnverifiedBody); err != nil {
		return nil, fmt.Errorf("the backup's key files are damaged: %w", err)
	}
	return out, nil
}
