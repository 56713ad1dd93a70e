// Package admin is the enmeid command line: the vendor's sub-commands
// (products, repositories, publishing, contracts, seats) and `serve`. It turns
// flags and environment into configuration, opens the backends, and calls
// into the packages that own each concept; it holds no business rules.
package admin

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/enmei-project/enmei/internal/backend"
	"github.com/enmei-project/enmei/internal/blob"
	"github.com/enmei-project/enmei/internal/exitcode"
	"github.com/enmei-project/enmei/internal/sign"
	"github.com/enmei-project/enmei/internal/store"
)

// Config is enmeid's configuration after flags and environment are resolved.
type Config struct {
	Data  string
	DB    string
	Blobs string
	JSON  bool
}

// resolve fills defaults from the environment, then from the data directory.
func (c *Config) resolve(env func(string) string, flags map[string]bool) {
	if !flags["data"] && env("ENMEI_DATA") != "" {
		c.Data = env("ENMEI_DATA")
	}
	if !flags["db"] {
		c.DB = env("ENMEI_DB")
	}
	if !flags["blobs"] {
		c.Blobs = env("ENMEI_BLOBS")
	}
	if c.DB == "" {
		c.DB = "sqlite://" + filepath.Join(c.Data, "enmei.db")
	}
	if c.Blobs == "" {
		c.Blobs = "file://" + filepath.Join(c.Data, "blobs")
	}
}

// app carries what every sub-command needs.
type app struct {
	cfg    Config
	env    func(string) string
	stdout io.Writer
	stderr io.Writer
	now    func() time.Time
	log    *slog.Logger

	st    store.Store
	blobs blob.Store
}

func (a *app) open(ctx context.Context) error {
	if a.st != nil {
		return nil
	}
	st, err := backend.OpenStore(ctx, a.cfg.DB)
	if err != nil {
		return fmt.Errorf("opening the database %s: %w", a.cfg.DB, err)
	}
	bl, err := backend.OpenBlobs(ctx, a.cfg.Blobs)
	if err != nil {
		st.Close()
		return fmt.Errorf("opening the blob store %s: %w", a.cfg.Blobs, err)
	}
	a.st, a.blobs = st, bl
	return nil
}

func (a *app) key(ctx context.Context) (*sign.Key, error) {
	return sign.LoadOrCreate(ctx, a.st, a.now())
}

func (a *app) close() {
	if a.st != nil {
		a.st.Close()
	}
}

// printJSON writes v as one JSON object on stdout.
func (a *app) printJSON(v any) error {
	enc := json.NewEncoder(a.stdout)
	enc.SetEscapeHTML(false)
	return enc.Encode(v)
}

// Main runs enmeid with args (without the program name) and returns the exit code.
func Main(ctx context.Context, args []string, env func(string) string, stdout, stderr io.Writer) int {
	a := &app{env: env, stdout: stdout, stderr: stderr, now: time.Now,
		log: slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))}
	defer a.close()
	if err := a.debugKnobs(); err != nil {
		fmt.Fprintf(stderr, "enmeid: %v\n", err)
		return exitcode.Usage
	}
	root := a.rootCommand()
	root.SetArgs(args)
	root.SetOut(stdout)
	root.SetErr(stderr)
	err := root.ExecuteContext(ctx)
	code := exitcode.For(err)
	switch code {
	case exitcode.OK:
	case exitcode.Usage:
		fmt.Fprintf(stderr, "enmeid: %v\nRun 'enmeid --help' for usage.\n", err)
	default:
		fmt.Fprintf(stderr, "enmeid: %v\n", err)
	}
	return code
}

var usagef = exitcode.Usagef

func (a *app) rootCommand() *cobra.Command {
	root := &cobra.Command{
		Use:           "enmeid",
		Short:         "enmei server: licence-gated ELS repositories, contracts and seats",
		SilenceUsage:  true,
		SilenceErrors: true,
		PersistentPreRunE: func(cmd *cobra.Command, args []string) error {
			flags := map[string]bool{}
			cmd.Flags().Visit(func(f *pflag.Flag) { flags[f.Name] = true })
			a.cfg.resolve(a.env, flags)
			return nil
		},
	}
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error { return exitcode.AsUsage(err) })
	pf := root.PersistentFlags()
	pf.StringVar(&a.cfg.Data, "data", "./enmei-data", "data directory (ENMEI_DATA)")
	pf.StringVar(&a.cfg.DB, "db", "", "database URL: sqlite://PATH or postgres://… (ENMEI_DB; default sqlite://<data>/enmei.db)")
	pf.StringVar(&a.cfg.Blobs, "blobs", "", "blob store URL: file://DIR (ENMEI_BLOBS; default file://<data>/blobs)")
	pf.BoolVar(&a.cfg.JSON, "json", false, "machine-readable output on stdout")
	root.AddCommand(a.serveCommand(), a.productCommand(), a.repoCommand(), a.publishCommand(),
		a.publicationCommand(), a.contractCommand(), a.seatCommand(), a.signingKeyCommand())
	return root
}

// debugKnobs reads the test-only settings from the environment, in one place,
// and says loudly when one is active.
func (a *app) debugKnobs() error {
	if v := a.env("ENMEI_DEBUG_NOW"); v != "" {
		t, err := time.Parse(time.RFC3339, v)
		if err != nil {
			return fmt.Errorf("ENMEI_DEBUG_NOW=%q is not an RFC 3339 time", v)
		}
		offset := time.Until(t)
		a.now = func() time.Time { return time.Now().Add(offset) }
		a.log.Warn("debug knob: the clock is shifted", "ENMEI_DEBUG_NOW", v)
	}
	if a.env("ENMEI_DEBUG_CRASH_BEFORE_COMMIT") == "1" {
		a.log.Warn("debug knob: publish will kill itself before committing", "ENMEI_DEBUG_CRASH_BEFORE_COMMIT", "1")
	}
	return nil
}
