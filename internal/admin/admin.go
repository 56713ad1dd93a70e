// Package admin is the enmeid command line: the vendor's sub-commands
// (products, repositories, publishing, contracts, seats, keys, garbage
// collection) and `serve`. It turns flags and environment into
// configuration, opens the backends, and calls into the packages that own
// each concept; it holds no business rules.
package admin

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/enmei-project/enmei/internal/backend"
	"github.com/enmei-project/enmei/internal/blob"
	"github.com/enmei-project/enmei/internal/exitcode"
	"github.com/enmei-project/enmei/internal/obs"
	"github.com/enmei-project/enmei/internal/sign"
	"github.com/enmei-project/enmei/internal/store"
	"github.com/enmei-project/enmei/internal/version"
)

// Config is enmeid's configuration after flags and environment are resolved.
type Config struct {
	Data       string
	DB         string
	Blobs      string
	SigningKey string // the private key file
	PublicURL  string // how hosts and browsers reach the server; links use it
	JSON       bool
	LogFormat  string
	LogLevel   string
	// AllowPasswordReset is the vendor's policy on lost developer
	// passwords (default: never reset, as the service terms say).
	AllowPasswordReset bool
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
	if !flags["signing-key"] {
		c.SigningKey = env("ENMEI_SIGNING_KEY")
	}
	if !flags["public-url"] {
		c.PublicURL = env("ENMEI_PUBLIC_URL")
	}
	if !flags["allow-password-reset"] && env("ENMEI_ALLOW_PASSWORD_RESET") != "" {
		c.AllowPasswordReset = env("ENMEI_ALLOW_PASSWORD_RESET") == "1" || strings.EqualFold(env("ENMEI_ALLOW_PASSWORD_RESET"), "true")
	}
	if c.DB == "" {
		c.DB = "sqlite://" + filepath.Join(c.Data, "enmei.db")
	}
	if c.Blobs == "" {
		c.Blobs = "file://" + filepath.Join(c.Data, "blobs")
	}
	if c.SigningKey == "" {
		c.SigningKey = filepath.Join(c.Data, "signing-key.asc")
	}
}

// Redact hides the password of a URL (a PostgreSQL DSN) for logs and messages.
func Redact(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.User == nil {
		if i := strings.LastIndex(raw, "@"); i >= 0 && strings.Contains(raw, "://") {
			return raw[:strings.Index(raw, "://")+3] + "…" + raw[i:]
		}
		return raw
	}
	return u.Redacted()
}

// app carries what every sub-command needs.
type app struct {
	cfg    Config
	env    func(string) string
	stdin  io.Reader
	stdout io.Writer
	stderr io.Writer
	now    func() time.Time
	log    *slog.Logger

	st    store.Store
	blobs blob.Store
	// keyBits is the size of a signing key made on first need.
	keyBits int
	// released is told of released seats (serve points it at the server's
	// cache); nil outside serve.
	released func(hostID string)
}

func (a *app) open(ctx context.Context) error {
	if a.st != nil {
		return nil
	}
	st, err := backend.OpenStore(ctx, a.cfg.DB)
	if errors.Is(err, backend.ErrScheme) {
		return usagef("--db %q is not sqlite://PATH or postgres://…", Redact(a.cfg.DB))
	}
	if err != nil {
		return fmt.Errorf("opening the database %s: %w", Redact(a.cfg.DB), redactErr(err, a.cfg.DB))
	}
	bl, err := backend.OpenBlobs(ctx, a.cfg.Blobs, filepath.Join(a.cfg.Data, "tmp"))
	if err != nil {
		st.Close()
		if errors.Is(err, backend.ErrScheme) {
			return usagef("--blobs %q: %v", Redact(a.cfg.Blobs), err)
		}
		return fmt.Errorf("opening the blob store %s: %w", Redact(a.cfg.Blobs), err)
	}
	a.st, a.blobs = st, bl
	return nil
}

// redactErr keeps a DSN's password out of an error that quotes the DSN.
func redactErr(err error, dsn string) error {
	u, perr := url.Parse(dsn)
	if perr != nil || u.User == nil {
		return err
	}
	pass, ok := u.User.Password()
	if !ok || pass == "" || !strings.Contains(err.Error(), pass) {
		return err
	}
	return fmt.Errorf("%s", strings.ReplaceAll(err.Error(), pass, "xxxxx"))
}

// custody says where the signing key lives; a key made on first need is
// announced with its fingerprint.
func (a *app) custody() *sign.Custody {
	host, _ := os.Hostname()
	return &sign.Custody{Store: a.st, File: a.cfg.SigningKey, Passphrase: []byte(a.env("ENMEI_SIGNING_PASSPHRASE")),
		Now: a.now, Bits: a.keyBits, Comment: host, Created: func(k *sign.Key) {
			fmt.Fprintf(a.stderr, "enmeid: made the repositories' signing key %s in %s (mode 0600): back it up; hosts trust it from now on. To have your own identity in it, run enmeid signing-key generate --name NAME --email EMAIL on a new data directory before the first repo add.\n",
				sign.FormatFingerprint(k.Fingerprint()), a.cfg.SigningKey)
			if a.keyBits != 0 {
				a.log.Warn("debug knob: the key has a test size", "ENMEI_DEBUG_KEY_BITS", a.keyBits)
			}
		}}
}

// key returns the private signing key, making it on first need.
func (a *app) key(ctx context.Context) (*sign.Key, error) {
	return a.custody().Private(ctx)
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
	a := &app{env: env, stdin: os.Stdin, stdout: stdout, stderr: stderr, now: time.Now,
		log: slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))}
	defer a.close()
	if err := a.debugKnobs(); err != nil {
		fmt.Fprintf(stderr, "enmeid: %v\n", err)
		return exitcode.Usage
	}
	root := a.rootCommand()
	exitcode.TypeArgs(root)
	root.SetArgs(args)
	root.SetOut(stdout)
	root.SetErr(stderr)
	err := root.ExecuteContext(ctx)
	code := exitcode.For(err)
	var own interface{ ExitCode() int }
	if errors.As(err, &own) {
		code = own.ExitCode() // e.g. EX_TEMPFAIL for a mail server's pipe
	}
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
		Version:       version.Get().String(),
		SilenceUsage:  true,
		SilenceErrors: true,
		PersistentPreRunE: func(cmd *cobra.Command, args []string) error {
			flags := map[string]bool{}
			cmd.Flags().Visit(func(f *pflag.Flag) { flags[f.Name] = true })
			a.cfg.resolve(a.env, flags)
			level, err := obs.ParseLevel(a.cfg.LogLevel)
			if err != nil {
				return usagef("--log-level: %v", err)
			}
			log, err := obs.NewLogger(a.stderr, a.cfg.LogFormat, level)
			if err != nil {
				return usagef("--log-format: %v", err)
			}
			a.log = log
			slog.SetDefault(log)
			return nil
		},
	}
	root.SetVersionTemplate("{{.Version}}\n")
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error { return exitcode.AsUsage(err) })
	pf := root.PersistentFlags()
	pf.StringVar(&a.cfg.Data, "data", "./enmei-data", "data directory (ENMEI_DATA)")
	pf.StringVar(&a.cfg.DB, "db", "", "database URL: sqlite://PATH or postgres://… (ENMEI_DB; default sqlite://<data>/enmei.db)")
	pf.StringVar(&a.cfg.Blobs, "blobs", "", "blob store URL: file://DIR (ENMEI_BLOBS; default file://<data>/blobs)")
	pf.StringVar(&a.cfg.SigningKey, "signing-key", "", "private signing key file (ENMEI_SIGNING_KEY; default <data>/signing-key.asc; passphrase from ENMEI_SIGNING_PASSPHRASE)")
	pf.StringVar(&a.cfg.PublicURL, "public-url", "", "URL hosts and browsers use to reach the server; printed links use it (ENMEI_PUBLIC_URL; default http://<serve --addr>)")
	pf.BoolVar(&a.cfg.JSON, "json", false, "machine-readable output on stdout")
	pf.BoolVar(&a.cfg.AllowPasswordReset, "allow-password-reset", false, "policy: let the vendor reset lost developer-account passwords (enmeid account reset) (ENMEI_ALLOW_PASSWORD_RESET=1)")
	pf.StringVar(&a.cfg.LogFormat, "log-format", "text", "log format on stderr: text or json")
	pf.StringVar(&a.cfg.LogLevel, "log-level", "info", "log level: debug, info, warn or error")
	root.AddCommand(a.serveCommand(), a.productCommand(), a.repoCommand(), a.publishCommand(),
		a.publicationCommand(), a.contractCommand(), a.seatCommand(), a.signingKeyCommand(),
		a.gcCommand(), a.migrateCommand(), a.versionCommand(),
		a.userCommand(), a.tokenCommand(), a.outboxCommand(), a.caCommand(), a.certCommand(), a.bundleCommand(),
		a.agentCommand(), a.advisoryCommand(), a.cveCommand(), a.webhookCommand(), a.accountCommand(), a.quoteCommand(),
		a.ticketCommand(), a.mailCommand(), a.contactCommand(), a.noticeCommand(), a.supportCommand(), a.supportBundleCommand(), a.backupCommand(), a.restoreCommand())
	return root
}

func (a *app) versionCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "print the version, commit and Go version",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			v := version.Get()
			if a.cfg.JSON {
				return a.printJSON(v.JSON())
			}
			_, err := fmt.Fprintln(a.stdout, v.String())
			return err
		},
	}
}

func (a *app) migrateCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "migrate",
		Short: "apply database migrations (and move a private key out of the database) and exit",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			if err := a.open(ctx); err != nil {
				return err
			}
			if err := a.custody().Migrate(ctx); err != nil {
				return err
			}
			if a.cfg.JSON {
				return a.printJSON(map[string]any{"database": Redact(a.cfg.DB), "migrated": true})
			}
			fmt.Fprintf(a.stderr, "database %s is up to date\n", Redact(a.cfg.DB))
			return nil
		},
	}
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
	if a.env("ENMEI_DEBUG_NO_SBOM_FACTS") == "1" {
		a.log.Warn("debug knob: new packages get no SBOM facts", "ENMEI_DEBUG_NO_SBOM_FACTS", "1")
	}
	if a.env("ENMEI_DEBUG_CRASH_BEFORE_COMMIT") == "1" {
		a.log.Warn("debug knob: publish will kill itself before committing", "ENMEI_DEBUG_CRASH_BEFORE_COMMIT", "1")
	}
	if v := a.env("ENMEI_DEBUG_KEY_BITS"); v != "" {
		bits, err := strconv.Atoi(v)
		if err != nil {
			return fmt.Errorf("ENMEI_DEBUG_KEY_BITS=%q is not a number", v)
		}
		a.keyBits = bits // said when a key is made, so other commands' stderr stays one line
	}
	return nil
}
