package storetest

import (
	"errors"
	"fmt"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/enmei-project/enmei/internal/errs"
	"github.com/enmei-project/enmei/internal/store"
)

func newTicket(sid string, at time.Time) store.Ticket {
	return store.Ticket{SupportID: sid, Subject: "サーバーが起動しません", Status: store.TicketWaiting, Waiting: store.WaitConfirmation,
		ConfirmWord: "KAKUNIN-1", Lang: "ja", Contact: "ops@example.jp", OpenedAt: at, DueAt: at.Add(4 * time.Hour)}
}

func inbound(id string, at time.Time) store.TicketMessage {
	return store.TicketMessage{Direction: "in", MessageID: id, From: "ops@example.jp", Subject: "件名", Text: "本文",
		Attachments: []store.TicketAttachment{{Filename: "ログ.tar.gz", ContentType: "application/gzip", Size: 3, Blob: "abc"}}, At: at}
}

func testDesk(t *testing.T, s store.Store) {
	contract(t, s, "ENM-D", 1)
	at := time.Date(2026, 12, 1, 10, 0, 0, 0, tokyo)
	tk, err := s.AddTicket(ctx, newTicket("ENM-D", at), func(t store.Ticket) (store.TicketChange, error) {
		return store.TicketChange{Messages: []store.TicketMessage{inbound("m1@example.jp", at)}, Mails: []store.Mail{mail("ops@example.jp", at)}}, nil
	})
	must(t, err)
	if tk.Number == 0 {
		t.Fatal("AddTicket assigned no number")
	}
	// An error from change stores nothing, not even the number's ticket.
	_, err = s.AddTicket(ctx, newTicket("ENM-D", at), func(store.Ticket) (store.TicketChange, error) {
		return store.TicketChange{}, errors.New("refused")
	})
	if err == nil {
		t.Fatal("AddTicket stored a ticket whose change failed")
	}
	if all, _ := s.Tickets(ctx, store.TicketFilter{}); len(all) != 1 {
		t.Fatalf("after a failed AddTicket: %d tickets, want 1", len(all))
	}
	_, err = s.AddTicket(ctx, newTicket("nope", at), func(store.Ticket) (store.TicketChange, error) { return store.TicketChange{}, nil })
	wantKind(t, "AddTicket(unknown contract)", err, errs.NotFound)

	got, err := s.Ticket(ctx, tk.Number)
	must(t, err)
	if !reflect.DeepEqual(normTicket(got), normTicket(tk)) {
		t.Errorf("Ticket = %+v, want %+v", got, tk)
	}
	found, err := s.TicketByMessageID(ctx, []string{"unknown@x", "m1@example.jp"})
	must(t, err)
	if found.Number != tk.Number {
		t.Errorf("TicketByMessageID = %d, want %d", found.Number, tk.Number)
	}
	_, err = s.TicketByMessageID(ctx, []string{"unknown@x"})
	wantKind(t, "TicketByMessageID(unknown)", err, errs.NotFound)

	// Confirming consumes one inquiry of the year, counted by used.
	later := at.Add(time.Hour)
	tk, err = s.ChangeTicket(ctx, tk.Number, func(t *store.Ticket, used func(string) (int, error)) (store.TicketChange, error) {
		n, err := used("2026-01-01")
		if err != nil || n != 0 {
			return store.TicketChange{}, fmt.Errorf("used = %d, %v; want 0", n, err)
		}
		t.Status, t.Waiting, t.Consumed, t.YearStart, t.RespondedAt = store.TicketOpen, "", true, "2026-01-01", later
		return store.TicketChange{Messages: []store.TicketMessage{inbound("m2@example.jp", later)}}, nil
	})
	must(t, err)
	if n, err := s.InquiriesUsed(ctx, "ENM-D", "2026-01-01"); err != nil || n != 1 {
		t.Errorf("InquiriesUsed = %d, %v; want 1", n, err)
	}
	if n, _ := s.InquiriesUsed(ctx, "ENM-D", "2027-01-01"); n != 0 {
		t.Errorf("InquiriesUsed(next year) = %d, want 0", n)
	}
	// A failed change leaves the ticket as it was.
	_, err = s.ChangeTicket(ctx, tk.Number, func(t *store.Ticket, _ func(string) (int, error)) (store.TicketChange, error) {
		t.Status = store.TicketClosed
		return store.TicketChange{}, errors.New("refused")
	})
	if err == nil {
		t.Fatal("ChangeTicket stored a change that failed")
	}
	got, _ = s.Ticket(ctx, tk.Number)
	if got.Status != store.TicketOpen || !sameTime(got.RespondedAt, later) {
		t.Errorf("after a failed change: %+v", got)
	}
	msgs, err := s.TicketMessages(ctx, tk.Number)
	must(t, err)
	if len(msgs) != 2 || msgs[0].MessageID != "m1@example.jp" || msgs[1].MessageID != "m2@example.jp" ||
		len(msgs[0].Attachments) != 1 || msgs[0].Attachments[0].Filename != "ログ.tar.gz" || msgs[0].Text != "本文" {
		t.Errorf("TicketMessages = %+v", msgs)
	}
	var blobs []string
	must(t, s.AttachmentBlobs(ctx, func(b string) error { blobs = append(blobs, b); return nil }))
	if !reflect.DeepEqual(blobs, []string{"abc", "abc"}) {
		t.Errorf("AttachmentBlobs = %v, want the blob of both messages", blobs)
	}
	if mails, _ := s.Mails(ctx, 10); len(mails) != 1 {
		t.Errorf("outbox holds %d mails, want 1 (the failed changes' mails must not be stored)", len(mails))
	}
	open, _ := s.Tickets(ctx, store.TicketFilter{SupportID: "ENM-D", Status: store.TicketOpen})
	closed, _ := s.Tickets(ctx, store.TicketFilter{Status: store.TicketClosed})
	if len(open) != 1 || len(closed) != 0 {
		t.Errorf("Tickets(open) = %d, (closed) = %d; want 1, 0", len(open), len(closed))
	}
	_, err = s.ChangeTicket(ctx, 999999, func(*store.Ticket, func(string) (int, error)) (store.TicketChange, error) {
		return store.TicketChange{}, nil
	})
	wantKind(t, "ChangeTicket(unknown)", err, errs.NotFound)
}

// normTicket drops the time zone so tickets compare by instant.
func normTicket(t store.Ticket) store.Ticket {
	for _, p := range []*time.Time{&t.OpenedAt, &t.DueAt, &t.RespondedAt, &t.ClosedAt} {
		if !p.IsZero() {
			*p = p.UTC().Truncate(time.Millisecond)
		}
	}
	return t
}

// testConcurrentConfirmations confirms many matters of one contract at once:
// the allowance decision is serialised, so no more than the allowance is
// ever consumed.
func testConcurrentConfirmations(t *testing.T, s store.Store) {
	contract(t, s, "ENM-C", 1)
	at := time.Date(2026, 12, 1, 10, 0, 0, 0, tokyo)
	var nums []int64
	for i := 0; i < 8; i++ {
		tk, err := s.AddTicket(ctx, newTicket("ENM-C", at), func(store.Ticket) (store.TicketChange, error) { return store.TicketChange{}, nil })
		must(t, err)
		nums = append(nums, tk.Number)
	}
	const allowance = 2
	var wg sync.WaitGroup
	for _, n := range nums {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := s.ChangeTicket(ctx, n, func(t *store.Ticket, used func(string) (int, error)) (store.TicketChange, error) {
				u, err := used("2026-01-01")
				if err != nil {
					return store.TicketChange{}, err
				}
				if u < allowance {
					t.Status, t.Waiting, t.Consumed, t.YearStart = store.TicketOpen, "", true, "2026-01-01"
				} else {
					t.Waiting = store.WaitAllowance
				}
				return store.TicketChange{}, nil
			})
			if err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if n, err := s.InquiriesUsed(ctx, "ENM-C", "2026-01-01"); err != nil || n != allowance {
		t.Errorf("InquiriesUsed = %d, %v; want exactly %d", n, err, allowance)
	}
}

func testContactsAndNotices(t *testing.T, s store.Store) {
	contract(t, s, "ENM-X", 1)
	contract(t, s, "ENM-Y", 1)
	at := time.Date(2026, 12, 1, 10, 0, 0, 0, tokyo)
	must(t, s.AddContactChange(ctx, store.ContactChange{SupportID: "ENM-Y", Email: "new@example.jp", Effective: "2026-12-04", RequestedAt: at},
		[]store.Mail{mail("ops@example.jp", at), mail("new@example.jp", at)}))
	cs, err := s.ContactChanges(ctx, "ENM-Y")
	must(t, err)
	if len(cs) != 1 || cs[0].Email != "new@example.jp" || cs[0].Effective != "2026-12-04" || !sameTime(cs[0].RequestedAt, at) {
		t.Errorf("ContactChanges = %+v", cs)
	}
	byOld, _ := s.ContractsByContact(ctx, "ops@example.jp")
	byNew, _ := s.ContractsByContact(ctx, "new@example.jp")
	if len(byOld) != 2 || len(byNew) != 1 || byNew[0].SupportID != "ENM-Y" {
		t.Errorf("ContractsByContact: old %d, new %+v", len(byOld), byNew)
	}
	if mails, _ := s.Mails(ctx, 10); len(mails) != 2 {
		t.Errorf("contact change queued %d mails, want 2", len(mails))
	}

	n1, err := s.AddNotice(ctx, store.Notice{Title: "PKI", Body: "本文", Start: at.AddDate(0, 0, 8), End: at.AddDate(0, 0, 9),
		RRule: "FREQ=MONTHLY;BYDAY=3TU", CreatedAt: at}, []store.Mail{mail("ops@example.jp", at)})
	must(t, err)
	n2, err := s.AddNotice(ctx, store.Notice{Title: "repo", Body: "b", Start: at.AddDate(0, 0, 10), End: at.AddDate(0, 0, 11),
		Products: []string{"p"}, Emergency: true, CreatedAt: at}, nil)
	must(t, err)
	ns, err := s.Notices(ctx)
	must(t, err)
	if len(ns) != 2 || ns[0].ID != n2.ID || ns[1].ID != n1.ID || !reflect.DeepEqual(ns[0].Products, []string{"p"}) ||
		!ns[0].Emergency || ns[1].RRule != "FREQ=MONTHLY;BYDAY=3TU" || len(ns[1].Products) != 0 || !sameTime(ns[1].Start, at.AddDate(0, 0, 8)) {
		t.Errorf("Notices = %+v", ns)
	}
}
