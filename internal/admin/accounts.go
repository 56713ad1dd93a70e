package admin

import (
	"context"
	"fmt"
	"net/url"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/enmei-project/enmei/internal/account"
	"github.com/enmei-project/enmei/internal/entitle"
	"github.com/enmei-project/enmei/internal/exitcode"
	"github.com/enmei-project/enmei/internal/store"
)

// publicURL is where links printed by commands point: --public-url, else
// ENMEI_PUBLIC_URL, else the default listen address.
func (a *app) publicURL() string {
	if a.cfg.PublicURL != "" {
		return strings.TrimRight(a.cfg.PublicURL, "/")
	}
	return "http://127.0.0.1:8080"
}

// passwordLink stores a set-password link for a console user (and the user,
// when u is new) and returns the URL on base.
func (a *app) passwordLink(ctx context.Context, base string, u store.User, isNew bool) (string, time.Time, error) {
	token, hash := account.NewToken()
	now := a.now()
	l := store.Link{Hash: hash, Purpose: account.LinkPassword, Subject: u.Email, CreatedAt: now, ExpiresAt: now.Add(account.PasswordLinkTTL)}
	var err error
	if isNew {
		err = a.st.AddUser(ctx, u, l)
	} else {
		err = a.st.AddLink(ctx, l, nil, 0, now)
	}
	if err != nil {
		return "", time.Time{}, err
	}
	return base + "/admin/password?token=" + url.QueryEscape(token), l.ExpiresAt, nil
}

func (a *app) userCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "user", Short: "manage vendor console users"}
	var role string
	add := &cobra.Command{
		Use:   "add EMAIL --role admin|operator|viewer",
		Short: "add a console user; prints a one-time link to set the password",
		Long: `Add a vendor console user. The printed link lets the user set a password
once, within 72 hours; pass it on privately. Roles: admin and operator may change
contracts, seats and publications; viewer only reads.

Running it again for an existing user prints a new link (a password reset).`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			email, err := account.NormalizeEmail(args[0])
			if err != nil {
				return exitcode.AsUsage(err)
			}
			if err := account.CheckRole(role); err != nil {
				return exitcode.AsUsage(err)
			}
			if err := a.open(ctx); err != nil {
				return err
			}
			u, err := a.st.User(ctx, email)
			isNew := err != nil
			if isNew {
				u = store.User{Email: email, Role: role, CreatedAt: a.now()}
			} else if u.Role != role {
				return fmt.Errorf("user %s exists with role %s, not %s: a role cannot be changed yet", email, u.Role, role)
			}
			link, expires, err := a.passwordLink(ctx, a.publicURL(), u, isNew)
			if err != nil {
				return err
			}
			if a.cfg.JSON {
				return a.printJSON(map[string]any{"email": email, "role": role, "link": link, "expires_at": expires.UTC(), "new": isNew})
			}
			fmt.Fprintf(a.stdout, "%s\n", link)
			what := "added"
			if !isNew {
				what = "exists; its password can be reset"
			}
			fmt.Fprintf(a.stderr, "user %s (%s) %s: open the link above to set the password (valid until %s, once)\n",
				email, role, what, expires.In(entitle.Tokyo).Format("2006-01-02 15:04 JST"))
			return nil
		},
	}
	add.Flags().StringVar(&role, "role", "", "admin, operator or viewer")
	add.MarkFlagRequired("role")
	list := &cobra.Command{
		Use:   "list",
		Short: "list console users",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			if err := a.open(ctx); err != nil {
				return err
			}
			users, err := a.st.Users(ctx)
			if err != nil {
				return err
			}
			if a.cfg.JSON {
				out := make([]map[string]any, 0, len(users))
				for _, u := range users {
					out = append(out, map[string]any{"email": u.Email, "role": u.Role, "password_set": u.PasswordHash != "", "created_at": u.CreatedAt.UTC()})
				}
				return a.printJSON(out)
			}
			tw := tabwriter.NewWriter(a.stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "EMAIL\tROLE\tPASSWORD\tCREATED")
			for _, u := range users {
				pw := "set"
				if u.PasswordHash == "" {
					pw = "not set"
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", u.Email, u.Role, pw, u.CreatedAt.In(entitle.Tokyo).Format("2006-01-02 15:04 JST"))
			}
			return tw.Flush()
		},
	}
	cmd.AddCommand(add, list)
	return cmd
}

func (a *app) tokenCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "token", Short: "manage admin API tokens"}
	var name, role string
	create := &cobra.Command{
		Use:   "create --name NAME --role admin|operator|viewer",
		Short: "create a token for the admin HTTP API; shown once",
		Long: `Create a token for the admin HTTP API (/api/v1/admin/, described by
/api/openapi.json). Send it as "Authorization: Bearer TOKEN", or as HTTP Basic
with the token's name as the user and the token as the password. It is stored
hashed and shown only now.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			if err := account.CheckRole(role); err != nil {
				return exitcode.AsUsage(err)
			}
			if strings.TrimSpace(name) == "" || len(name) > 64 || strings.ContainsAny(name, ":\r\n\t ") {
				return usagef("--name must be 1 to 64 characters without spaces or colons")
			}
			if err := a.open(ctx); err != nil {
				return err
			}
			token, hash := account.NewToken()
			if err := a.st.AddToken(ctx, store.APIToken{Name: name, Role: role, Hash: hash, CreatedAt: a.now()}); err != nil {
				return err
			}
			if a.cfg.JSON {
				return a.printJSON(map[string]any{"name": name, "token": token, "role": role})
			}
			fmt.Fprintln(a.stdout, token)
			fmt.Fprintf(a.stderr, "API token %q (%s) created: it is shown only now\n", name, role)
			return nil
		},
	}
	create.Flags().StringVar(&name, "name", "", "a name for the token (the HTTP Basic user name)")
	create.Flags().StringVar(&role, "role", "", "admin, operator or viewer")
	create.MarkFlagRequired("name")
	create.MarkFlagRequired("role")
	cmd.AddCommand(create)
	return cmd
}

func (a *app) outboxCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "outbox", Short: "outgoing mail"}
	var limit int
	list := &cobra.Command{
		Use:   "list [--limit N]",
		Short: "list queued, sent and failed mail, newest first",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			if limit < 1 {
				return usagef("--limit must be at least 1")
			}
			if err := a.open(ctx); err != nil {
				return err
			}
			mails, err := a.st.Mails(ctx, limit)
			if err != nil {
				return err
			}
			if a.cfg.JSON {
				out := make([]map[string]any, 0, len(mails))
				for _, m := range mails {
					var sent any
					if !m.SentAt.IsZero() {
						sent = m.SentAt.UTC()
					}
					out = append(out, map[string]any{"id": m.ID, "to": m.To, "subject": m.Subject, "status": m.Status,
						"attempts": m.Attempts, "last_error": m.LastError, "created_at": m.CreatedAt.UTC(), "sent_at": sent})
				}
				return a.printJSON(out)
			}
			tw := tabwriter.NewWriter(a.stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tTO\tSUBJECT\tSTATUS\tATTEMPTS\tCREATED\tLAST ERROR")
			for _, m := range mails {
				fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%d\t%s\t%s\n", m.ID, m.To, m.Subject, m.Status, m.Attempts,
					m.CreatedAt.In(entitle.Tokyo).Format("2006-01-02 15:04 JST"), m.LastError)
			}
			return tw.Flush()
		},
	}
	list.Flags().IntVar(&limit, "limit", 100, "show at most N mails")
	cmd.AddCommand(list)
	return cmd
}
