package admin

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/enmei-project/enmei/internal/bizcal"
	"github.com/enmei-project/enmei/internal/desk"
	"github.com/enmei-project/enmei/internal/entitle"
	"github.com/enmei-project/enmei/internal/mailin"
	"github.com/enmei-project/enmei/internal/store"
	"github.com/enmei-project/enmei/internal/support"
	"github.com/enmei-project/enmei/internal/tracker"
)

// desk returns the support desk over the open store; its business calendar
// is the tracker's (the vendor's holidays are set once, with advisory config).
func (a *app) desk(ctx context.Context) (*desk.Desk, error) {
	if err := a.open(ctx); err != nil {
		return nil, err
	}
	svc := &tracker.Service{Store: a.st}
	return &desk.Desk{Store: a.st, Blobs: a.blobs, Now: a.now, Log: a.log,
		Calendar: func(ctx context.Context) (bizcal.Calendar, error) {
			c, err := svc.Config(ctx)
			return c.Calendar(), err
		}}, nil
}

// parseTicket reads ENM-T-000123, 000123 or 123.
func parseTicket(s string) (int64, error) {
	if n, ok := mailin.Tag("[" + strings.ToUpper(s) + "]"); ok {
		return n, nil
	}
	n, err := strconv.ParseInt(strings.TrimLeft(s, "0"), 10, 64)
	if err != nil || n <= 0 {
		return 0, usagef("%q is not a ticket number: write it as ENM-T-000123", s)
	}
	return n, nil
}

// ticketJSON is a ticket as CLI.md lists its fields, with the SLA clock.
func ticketJSON(t store.Ticket, clk support.Clock, now time.Time) map[string]any {
	out := map[string]any{"id": mailin.FormatTag(t.Number), "support_id": t.SupportID, "subject": t.Subject, "status": t.Status,
		"consumed": t.Consumed, "opened": t.OpenedAt.UTC(), "scope_level": t.ScopeLevel, "contact": t.Contact,
		"first_response_due": t.DueAt.UTC(), "waiting_for": t.Waiting, "priority": t.Priority}
	if t.RespondedAt.IsZero() {
		out["first_response"] = nil
		if t.Status != store.TicketClosed {
			out["time_left"] = clk.Left(now, t.DueAt).String()
		}
	} else {
		out["first_response"] = t.RespondedAt.UTC()
	}
	if t.OutOfScope != "" {
		out["out_of_scope"] = t.OutOfScope
	}
	if t.Status == store.TicketClosed {
		out["closed"], out["vendor_fault"] = t.ClosedAt.UTC(), t.VendorFault
	}
	return out
}

func (a *app) ticketCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "ticket", Short: "the support desk's tickets: list, show, reply, close, scope"}
	var sid, status string
	list := &cobra.Command{
		Use:   "list [--support-id S] [--status open|waiting|closed]",
		Short: "list tickets, the least time left to the first-response target first",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			if status != "" && status != store.TicketOpen && status != store.TicketWaiting && status != store.TicketClosed {
				return usagef("--status %q is not open, waiting or closed", status)
			}
			d, err := a.desk(ctx)
			if err != nil {
				return err
			}
			ts, err := a.st.Tickets(ctx, store.TicketFilter{SupportID: sid, Status: status})
			if err != nil {
				return err
			}
			clk, now := a.clock(ctx, d), a.now()
			desk.SortByTimeLeft(ts, clk, now)
			if a.cfg.JSON {
				out := make([]map[string]any, 0, len(ts))
				for _, t := range ts {
					out = append(out, ticketJSON(t, clk, now))
				}
				return a.printJSON(out)
			}
			tw := tabwriter.NewWriter(a.stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "TICKET\tSUPPORT ID\tSTATUS\tCONSUMED\tLEVEL\tTIME LEFT\tSUBJECT")
			for _, t := range ts {
				left := "answered"
				if t.RespondedAt.IsZero() && t.Status != store.TicketClosed {
					left = fmtLeft(clk.Left(now, t.DueAt))
				}
				st := t.Status
				if t.Waiting != "" {
					st += " (" + t.Waiting + ")"
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%v\t%s\t%s\t%s\n", mailin.FormatTag(t.Number), t.SupportID, st, t.Consumed,
					levelText(t.ScopeLevel), left, t.Subject)
			}
			return tw.Flush()
		},
	}
	list.Flags().StringVar(&sid, "support-id", "", "only this contract's tickets")
	list.Flags().StringVar(&status, "status", "", "only tickets in this state: open, waiting or closed")

	show := &cobra.Command{
		Use:   "show ID",
		Short: "show a ticket and its mails",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			n, d, err := a.ticketArg(ctx, args[0])
			if err != nil {
				return err
			}
			t, err := a.st.Ticket(ctx, n)
			if err != nil {
				return err
			}
			msgs, err := a.st.TicketMessages(ctx, n)
			if err != nil {
				return err
			}
			clk, now := a.clock(ctx, d), a.now()
			if a.cfg.JSON {
				out := ticketJSON(t, clk, now)
				ms := make([]map[string]any, 0, len(msgs))
				for _, m := range msgs {
					ms = append(ms, map[string]any{"direction": m.Direction, "from": m.From, "subject": m.Subject, "text": m.Text,
						"at": m.At.UTC(), "message_id": m.MessageID, "attachments": m.Attachments})
				}
				out["messages"] = ms
				return a.printJSON(out)
			}
			fmt.Fprintf(a.stdout, "%s  %s  %s\nsubject:  %s\ncontact:  %s\nopened:   %s\nstatus:   %s %s\nconsumed: %v\nscope:    %s %s\n",
				mailin.FormatTag(t.Number), t.SupportID, t.Lang, t.Subject, t.Contact, jstTime(t.OpenedAt), t.Status, t.Waiting,
				t.Consumed, levelText(t.ScopeLevel), t.OutOfScope)
			if t.RespondedAt.IsZero() {
				fmt.Fprintf(a.stdout, "first response due %s (%s of support time left)\n", jstTime(t.DueAt), fmtLeft(clk.Left(now, t.DueAt)))
			}
			for _, m := range msgs {
				arrow := "<-"
				if m.Direction == "out" {
					arrow = "->"
				}
				fmt.Fprintf(a.stdout, "\n%s %s  %s  %s\n%s\n", arrow, jstTime(m.At), m.From, m.Subject, strings.TrimRight(m.Text, "\n"))
				for _, at := range m.Attachments {
					state := at.Blob
					if at.Dropped {
						state = "not kept: over the size limit"
					}
					fmt.Fprintf(a.stdout, "   attachment %s (%s, %d bytes) %s\n", at.Filename, at.ContentType, at.Size, state)
				}
			}
			return nil
		},
	}

	var file string
	reply := &cobra.Command{
		Use:   "reply ID --file F",
		Short: "answer the customer by mail, in the ticket's thread and their language",
		Args:  cobra.ExactArgs(1),
		RunE: a.ticketAction(func(ctx context.Context, d *desk.Desk, n int64) (store.Ticket, error) {
			body, err := a.readInput(file)
			if err != nil {
				return store.Ticket{}, err
			}
			return d.Reply(ctx, n, body)
		}),
	}
	reply.Flags().StringVar(&file, "file", "", "the answer, plain text (UTF-8); - for standard input")
	reply.MarkFlagRequired("file")

	var fault bool
	closeCmd := &cobra.Command{
		Use:   "close ID [--vendor-fault]",
		Short: "close a ticket; --vendor-fault gives back the inquiry it used",
		Args:  cobra.ExactArgs(1),
		RunE: a.ticketAction(func(ctx context.Context, d *desk.Desk, n int64) (store.Ticket, error) {
			return d.Close(ctx, n, fault)
		}),
	}
	closeCmd.Flags().BoolVar(&fault, "vendor-fault", false, "the cause lay in the vendor's repository or packages: the inquiry is given back")

	var level int
	var reason string
	scope := &cobra.Command{
		Use:   "scope ID --level N [--reason TEXT]",
		Short: "set the scope level 1–10 (standard support covers 1–4); out of scope needs a reason, which the customer is told",
		Args:  cobra.ExactArgs(1),
		RunE: a.ticketAction(func(ctx context.Context, d *desk.Desk, n int64) (store.Ticket, error) {
			return d.Scope(ctx, n, level, reason)
		}),
	}
	scope.Flags().IntVar(&level, "level", 0, "1 installation, 2 operation, 3 features, 4 fault analysis, 5 source analysis, 6 dump analysis, 7 fixes, 8 performance, 9 system building, 10 development")
	scope.Flags().StringVar(&reason, "reason", "", "why the ticket is out of scope (sent to the customer)")
	scope.MarkFlagRequired("level")

	newMatter := &cobra.Command{
		Use:   "new-matter ID",
		Short: "judge the ticket's latest follow-up a new matter: it moves to a new ticket that asks the customer to confirm",
		Args:  cobra.ExactArgs(1),
		RunE: a.ticketAction(func(ctx context.Context, d *desk.Desk, n int64) (store.Ticket, error) {
			return d.NewMatter(ctx, n)
		}),
	}
	accept := &cobra.Command{
		Use:   "accept ID",
		Short: "investigate a waiting ticket without consuming an inquiry (the vendor's decision)",
		Args:  cobra.ExactArgs(1),
		RunE: a.ticketAction(func(ctx context.Context, d *desk.Desk, n int64) (store.Ticket, error) {
			return d.Accept(ctx, n)
		}),
	}
	cmd.AddCommand(list, show, reply, closeCmd, scope, newMatter, accept)
	return cmd
}

// ticketArg reads a ticket number argument and opens the desk.
func (a *app) ticketArg(ctx context.Context, arg string) (int64, *desk.Desk, error) {
	n, err := parseTicket(arg)
	if err != nil {
		return 0, nil, err
	}
	d, err := a.desk(ctx)
	return n, d, err
}

// ticketAction runs a change of one ticket and prints the result.
func (a *app) ticketAction(f func(ctx context.Context, d *desk.Desk, n int64) (store.Ticket, error)) func(*cobra.Command, []string) error {
	return func(cmd *cobra.Command, args []string) error {
		ctx := cmd.Context()
		n, d, err := a.ticketArg(ctx, args[0])
		if err != nil {
			return err
		}
		t, err := f(ctx, d, n)
		if err != nil {
			return err
		}
		if a.cfg.JSON {
			return a.printJSON(ticketJSON(t, a.clock(ctx, d), a.now()))
		}
		st := t.Status
		if t.Waiting != "" {
			st += " (" + t.Waiting + ")"
		}
		fmt.Fprintf(a.stdout, "%s: %s, consumed %v, scope %s\n", mailin.FormatTag(t.Number), st, t.Consumed, levelText(t.ScopeLevel))
		return nil
	}
}

func (a *app) clock(ctx context.Context, d *desk.Desk) support.Clock {
	cal, err := d.Calendar(ctx)
	if err != nil {
		a.log.Warn("the business calendar could not be read; using the national one", "err", err)
	}
	return support.Clock{Cal: cal}
}

func fmtLeft(d time.Duration) string {
	if d < 0 {
		return "overdue " + (-d).Round(time.Minute).String()
	}
	return d.Round(time.Minute).String()
}

func levelText(l int) string {
	if l == 0 {
		return "-"
	}
	return fmt.Sprintf("%d %s", l, support.ScopeName(l, "en"))
}

func jstTime(t time.Time) string { return t.In(entitle.Tokyo).Format("2006-01-02 15:04 JST") }

// readInput reads a file, or standard input for "-".
func (a *app) readInput(name string) (string, error) {
	var b []byte
	var err error
	if name == "-" {
		b, err = io.ReadAll(a.stdin)
	} else {
		b, err = os.ReadFile(name)
	}
	if err != nil {
		return "", fmt.Errorf("reading %s: %w", name, err)
	}
	return string(b), nil
}

func (a *app) mailCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "mail", Short: "customer mail to the support desk"}
	ingest := &cobra.Command{
		Use:   "ingest",
		Short: "read one RFC 5322 message on standard input and handle it as serve --smtp-listen would",
		Long: `Read one message on standard input, as a mail server's pipe delivery gives it
(Postfix pipe(8), procmail, .forward), and handle it as the SMTP listener
would: a mail from a contract's technical contact opens or continues a
ticket; anything else opens nothing and is logged. Exit 0 when the message
was handled (also when it opened nothing), 1 when it cannot be (too large),
and 75 (EX_TEMPFAIL) when the database is unavailable, so the mail server
keeps the message and tries again.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			d, err := a.desk(ctx)
			if err != nil {
				return tempFail(err)
			}
			res, err := d.Receive(ctx, a.stdin)
			if errors.Is(err, desk.ErrTooLarge) {
				return fmt.Errorf("the message is larger than %d MiB: ask the sender to send a smaller one (split the attachment)", desk.MaxMessage>>20)
			}
			if err != nil {
				return tempFail(err)
			}
			if a.cfg.JSON {
				out := map[string]any{"action": res.Action, "ticket": nil, "reason": res.Reason}
				if res.Ticket != 0 {
					out["ticket"] = mailin.FormatTag(res.Ticket)
				}
				return a.printJSON(out)
			}
			if res.Ticket != 0 {
				fmt.Fprintf(a.stdout, "%s %s\n", res.Action, mailin.FormatTag(res.Ticket))
			} else {
				fmt.Fprintf(a.stdout, "%s: %s\n", res.Action, res.Reason)
			}
			return nil
		},
	}
	cmd.AddCommand(ingest)
	return cmd
}

// exitTempFail is sysexits' EX_TEMPFAIL: mail servers retry the delivery.
const exitTempFail = 75

type tempFailError struct{ error }

func (e tempFailError) Unwrap() error { return e.error }
func (e tempFailError) ExitCode() int { return exitTempFail }

func tempFail(err error) error {
	return tempFailError{fmt.Errorf("%w (the mail server should keep the message and retry)", err)}
}

func (a *app) contactCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "contact", Short: "a contract's technical contact"}
	var email, effective string
	change := &cobra.Command{
		Use:   "change SUPPORT_ID --email NEW [--effective DATE]",
		Short: "change the technical contact: in force 3 business days after the request, or on --effective",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			d, err := a.desk(ctx)
			if err != nil {
				return err
			}
			ch, err := d.ChangeContact(ctx, args[0], email, effective)
			if err != nil {
				return err
			}
			if a.cfg.JSON {
				return a.printJSON(map[string]any{"support_id": ch.SupportID, "email": ch.Email, "effective": ch.Effective})
			}
			fmt.Fprintf(a.stdout, "%s: the technical contact becomes %s on %s; the old and the new address are told by mail\n", ch.SupportID, ch.Email, ch.Effective)
			return nil
		},
	}
	change.Flags().StringVar(&email, "email", "", "the new technical contact (one address)")
	change.Flags().StringVar(&effective, "effective", "", "the first day the new address is in force, YYYY-MM-DD (default: 3 business days after today)")
	change.MarkFlagRequired("email")
	cmd.AddCommand(change)
	return cmd
}

func (a *app) noticeCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "notice", Short: "maintenance notices to technical contacts"}
	var in desk.NoticeInput
	var bodyFile, start, end, products string
	add := &cobra.Command{
		Use:   "add --title T --body-file F --start TIME --end TIME [--products P,…] [--emergency] [--recurring RRULE]",
		Short: "mail a maintenance notice to the technical contacts of the affected contracts (planned: at least 7 days ahead)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			var err error
			if in.Start, err = time.Parse(time.RFC3339, start); err != nil {
				return usagef("--start %q is not an RFC 3339 time such as 2026-12-08T22:00:00+09:00", start)
			}
			if in.End, err = time.Parse(time.RFC3339, end); err != nil {
				return usagef("--end %q is not an RFC 3339 time such as 2026-12-09T08:00:00+09:00", end)
			}
			if in.Body, err = a.readInput(bodyFile); err != nil {
				return err
			}
			in.Products = splitList(products)
			d, err := a.desk(ctx)
			if err != nil {
				return err
			}
			for _, p := range in.Products {
				if _, err := a.st.Product(ctx, p); err != nil {
					return err
				}
			}
			n, to, err := d.AddNotice(ctx, in)
			if err != nil {
				return err
			}
			if a.cfg.JSON {
				return a.printJSON(map[string]any{"id": n.ID, "title": n.Title, "start": n.Start, "end": n.End, "products": n.Products,
					"emergency": n.Emergency, "recurring": n.RRule, "recipients": to})
			}
			fmt.Fprintf(a.stdout, "notice %d: %s, %s – %s; mailed to %d technical contact(s)\n", n.ID, n.Title, jstTime(n.Start), jstTime(n.End), len(to))
			for _, r := range to {
				fmt.Fprintf(a.stdout, "  %s\n", r)
			}
			return nil
		},
	}
	f := add.Flags()
	f.StringVar(&in.Title, "title", "", "title (in the mail's subject)")
	f.StringVar(&bodyFile, "body-file", "", "the notice text, plain UTF-8; - for standard input")
	f.StringVar(&start, "start", "", "start, RFC 3339 (e.g. 2026-12-08T22:00:00+09:00)")
	f.StringVar(&end, "end", "", "end, RFC 3339")
	f.StringVar(&products, "products", "", "affected products, comma-separated (default: every product)")
	f.BoolVar(&in.Emergency, "emergency", false, "emergency maintenance: no 7-day notice needed")
	f.StringVar(&in.RRule, "recurring", "", "RFC 5545 RRULE from --start, e.g. FREQ=MONTHLY;BYDAY=3TU for the monthly PKI window")
	for _, n := range []string{"title", "body-file", "start", "end"} {
		add.MarkFlagRequired(n)
	}
	list := &cobra.Command{
		Use:   "list",
		Short: "current and upcoming notices, soonest first",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			d, err := a.desk(ctx)
			if err != nil {
				return err
			}
			ns, err := d.Upcoming(ctx, nil)
			if err != nil {
				return err
			}
			if a.cfg.JSON {
				out := make([]map[string]any, 0, len(ns))
				for _, n := range ns {
					out = append(out, map[string]any{"id": n.ID, "title": n.Title, "start": n.Next.Start, "end": n.Next.End,
						"products": n.Products, "emergency": n.Emergency, "recurring": n.RRule, "now": n.Now})
				}
				return a.printJSON(out)
			}
			for _, n := range ns {
				fmt.Fprintf(a.stdout, "%d\t%s – %s\t%s\n", n.ID, jstTime(n.Next.Start), jstTime(n.Next.End), n.Title)
			}
			return nil
		},
	}
	cmd.AddCommand(add, list)
	return cmd
}

func (a *app) supportCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "support", Short: "the support desk's settings"}
	var address, name, firstResponse, refuse string
	var maxAttachment int64
	config := &cobra.Command{
		Use:   "config [--address A] [--name N] [--first-response 4h] [--refuse-strangers on|off] [--max-attachment BYTES]",
		Short: "show or change the desk's address, first-response target (support hours) and refusals",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			if err := a.open(ctx); err != nil {
				return err
			}
			c, err := desk.LoadConfig(ctx, a.st)
			if err != nil {
				return err
			}
			changed := false
			fl := cmd.Flags()
			if fl.Changed("address") {
				c.Address, changed = strings.ToLower(address), true
			}
			if fl.Changed("name") {
				c.Name, changed = name, true
			}
			if fl.Changed("first-response") {
				v, err := time.ParseDuration(firstResponse)
				if err != nil {
					return usagef("--first-response %q is not a duration such as 4h or 90m", firstResponse)
				}
				c.FirstResponse, changed = desk.Duration(v), true
			}
			if fl.Changed("refuse-strangers") {
				if refuse != "on" && refuse != "off" {
					return usagef("--refuse-strangers is on or off, not %q", refuse)
				}
				c.RefuseStrangers, changed = refuse == "on", true
			}
			if fl.Changed("max-attachment") {
				c.MaxAttachment, changed = maxAttachment, true
			}
			if changed {
				if err := desk.SaveConfig(ctx, a.st, c); err != nil {
					return err
				}
			}
			if a.cfg.JSON {
				return a.printJSON(c)
			}
			fmt.Fprintf(a.stdout, "address:          %s (%s)\nfirst response:   %s of support hours\nrefuse strangers: %v\nmax attachment:   %d bytes\n",
				c.Address, c.Name, time.Duration(c.FirstResponse), c.RefuseStrangers, c.MaxAttachment)
			return nil
		},
	}
	f := config.Flags()
	f.StringVar(&address, "address", "", "the desk's address (customers write to it; its mail comes from it)")
	f.StringVar(&name, "name", "", "display name of the address")
	f.StringVar(&firstResponse, "first-response", "", "first-response target in support hours, e.g. 4h")
	f.StringVar(&refuse, "refuse-strangers", "", "on: answer mail from unknown senders with a refusal (off by default: backscatter)")
	f.Int64Var(&maxAttachment, "max-attachment", 0, "largest attachment kept, in bytes")
	cmd.AddCommand(config)
	return cmd
}

// allowanceCommand is contract allowance: read-only.
func (a *app) allowanceCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "allowance SUPPORT_ID",
		Short: "inquiries used and left in the current contract year (consumes nothing)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			d, err := a.desk(ctx)
			if err != nil {
				return err
			}
			c, err := a.st.Contract(ctx, args[0])
			if err != nil {
				return err
			}
			v, err := d.Allowance(ctx, c)
			if err != nil {
				return err
			}
			if a.cfg.JSON {
				return a.printJSON(v)
			}
			if v.Total == nil {
				q, err := d.Queue(ctx, c.SupportID)
				if err != nil {
					return err
				}
				fmt.Fprintf(a.stdout, "%s: unlimited inquiries, one investigated at a time (%d open); contract year %s – %s\n", c.SupportID, len(q), v.YearStart, v.YearEnd)
				for i, t := range q {
					fmt.Fprintf(a.stdout, "  %d. %s %s\n", i+1, mailin.FormatTag(t.Number), t.Subject)
				}
				return nil
			}
			fmt.Fprintf(a.stdout, "%s: %d of %d inquiries used, %d left in the contract year %s – %s\n", c.SupportID, v.Used, *v.Total, *v.Left, v.YearStart, v.YearEnd)
			return nil
		},
	}
}
