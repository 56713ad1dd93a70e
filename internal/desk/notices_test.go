package desk_test

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/enmei-project/enmei/internal/desk"
	"github.com/enmei-project/enmei/internal/errs"
	"github.com/enmei-project/enmei/internal/store"
)

func (e *env) contractFor(id, product, contact, start, end string) {
	e.t.Helper()
	if _, err := e.st.Product(ctx, product); err != nil {
		if err := e.st.AddProduct(ctx, store.Product{ID: product, Name: product, Format: "rpm"}); err != nil {
			e.t.Fatal(err)
		}
	}
	c := store.Contract{SupportID: id, Customer: "c", Plan: "server", Products: []string{product}, Quantity: 1,
		Start: start, End: end, Contact: contact, CreatedAt: e.now}
	if err := e.st.AddContract(ctx, c, nil); err != nil {
		e.t.Fatal(err)
	}
}

func TestNoticeRecipients(t *testing.T) {
	e := setup(t) // now: 2026-12-01 10:00 JST
	e.contractFor("ENM-1", "el9", "a@example.jp", "2026-04-01", "2027-03-31")
	e.contractFor("ENM-2", "el9", "a@example.jp", "2026-06-01", "2027-05-31") // same contact: one mail
	e.contractFor("ENM-3", "deb12", "deb@example.jp", "2026-04-01", "2027-03-31")
	e.contractFor("ENM-4", "el9", "old@example.jp", "2025-04-01", "2026-03-31")    // ended before the work
	e.contractFor("ENM-5", "el9", "next@example.jp", "2026-12-09", "2027-12-08")   // starts before the work
	e.contractFor("ENM-6", "el9", "later@example.jp", "2027-01-01", "2027-12-31")  // starts after the work
	e.contractFor("ENM-7", "el9", "before@example.jp", "2026-01-01", "2026-12-09") // ends the day before the work
	if _, err := e.d.ChangeContact(ctx, "ENM-1", "new-a@example.jp", "2026-12-01"); err != nil {
		t.Fatal(err)
	}
	start := jst("2026-12-10 22:00")
	in := desk.NoticeInput{Title: "リポジトリサーバーの保守", Body: "停止します。", Start: start, End: start.Add(10 * time.Hour), Products: []string{"el9"}}
	n, to, err := e.d.AddNotice(ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	want := "new-a@example.jp a@example.jp next@example.jp"
	got := strings.Join(slices.Sorted(slices.Values(to)), " ")
	if got != strings.Join(slices.Sorted(slices.Values(strings.Fields(want))), " ") {
		t.Fatalf("recipients %v, want %s", to, want)
	}
	mails := e.outbox()
	m := mails[len(mails)-1]
	if !strings.Contains(m.Subject, "リポジトリサーバーの保守") || !strings.Contains(m.Text, "2026-12-10 22:00") {
		t.Errorf("notice mail: %q\n%s", m.Subject, m.Text)
	}
	if n.ID == 0 {
		t.Error("no notice ID")
	}
	// Every product: the deb12 contract too.
	in.Products = nil
	_, to, err = e.d.AddNotice(ctx, in)
	if err != nil || len(to) != 4 {
		t.Fatalf("notice for every product: %v, %v", to, err)
	}
}

func TestNoticeLeadTime(t *testing.T) {
	e := setup(t)
	e.contractFor("ENM-1", "el9", "a@example.jp", "2026-04-01", "2027-03-31")
	in := desk.NoticeInput{Title: "t", Body: "b", Start: e.now.Add(7*24*time.Hour - time.Minute), End: e.now.Add(8 * 24 * time.Hour)}
	_, _, err := e.d.AddNotice(ctx, in)
	if !errs.Is(err, errs.Invalid) || !strings.Contains(err.Error(), "7") || !strings.Contains(err.Error(), "--emergency") {
		t.Fatalf("short notice: %v", err)
	}
	if ns, _ := e.st.Notices(ctx); len(ns) != 0 || len(e.outbox()) != 0 {
		t.Fatal("a refused notice was stored or mailed")
	}
	in.Emergency = true
	if _, to, err := e.d.AddNotice(ctx, in); err != nil || len(to) != 1 {
		t.Fatalf("emergency: %v %v", to, err)
	}
	in.Emergency, in.Start = false, e.now.Add(7*24*time.Hour)
	if _, _, err := e.d.AddNotice(ctx, in); err != nil {
		t.Fatalf("exactly 7 days ahead: %v", err)
	}
	// The monthly PKI window, 3rd Tuesday 22:00–08:00 JST.
	pki := desk.NoticeInput{Title: "PKI 定期メンテナンス", Body: "証明書発行を停止します。", Start: jst("2026-12-15 22:00"),
		End: jst("2026-12-16 08:00"), RRule: "FREQ=MONTHLY;BYDAY=3TU"}
	if _, _, err := e.d.AddNotice(ctx, pki); err != nil {
		t.Fatal(err)
	}
	m := e.outbox()[len(e.outbox())-1]
	if !strings.Contains(m.Text, "2027-01-19 22:00") || !strings.Contains(m.Text, "2027-02-16 22:00") {
		t.Errorf("recurring notice mail lists no next windows:\n%s", m.Text)
	}
	e.now = jst("2027-01-20 09:00")
	up, err := e.d.Upcoming(ctx, []string{"el9"})
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, u := range up {
		if u.RRule != "" {
			found = true
			if !u.Next.Start.Equal(jst("2027-02-16 22:00")) {
				t.Errorf("next PKI window %v", u.Next.Start)
			}
		}
	}
	if !found {
		t.Error("the recurring notice is not upcoming")
	}
}

func TestContactChange(t *testing.T) {
	e := setup(t)
	e.now = jst("2026-12-25 15:00") // a Friday before the year-end closure
	e.contract("ENM-C", 2, "2026-04-01", "2027-03-31")
	ch, err := e.d.ChangeContact(ctx, "ENM-C", "New@Example.co.jp", "")
	if err != nil {
		t.Fatal(err)
	}
	if ch.Effective != "2027-01-05" || ch.Email != "new@example.co.jp" {
		t.Fatalf("change = %+v, want effective 2027-01-05 (3 business days across the closure)", ch)
	}
	mails := e.outbox()
	if len(mails) != 2 || mails[0].To[0] != contact || mails[1].To[0] != "new@example.co.jp" || !strings.Contains(mails[0].Text, "2027-01-05") {
		t.Fatalf("both addresses must be told: %d mails", len(mails))
	}
	c, _ := e.st.Contract(ctx, "ENM-C")
	for day, want := range map[string]string{"2027-01-04": contact, "2027-01-05": "new@example.co.jp"} {
		if got, _ := e.d.ContactOn(ctx, c, day); got != want {
			t.Errorf("contact on %s = %s, want %s", day, got, want)
		}
	}
	// Until then the old contact opens tickets; from then the new one does.
	if r := e.receive(e.iso2022("new@example.co.jp", "質問", "本文", nil)); r.Action != desk.Dropped {
		t.Errorf("the new contact before the day: %+v", r)
	}
	e.now = jst("2027-01-05 09:00")
	if r := e.receive(e.iso2022("new@example.co.jp", "質問", "本文", nil)); r.Action != desk.Opened {
		t.Errorf("the new contact on the day: %+v", r)
	}
	if r := e.receive(e.iso2022(contact, "質問", "本文", nil)); r.Action != desk.Dropped {
		t.Errorf("the old contact after the day: %+v", r)
	}
	if _, err := e.d.ChangeContact(ctx, "ENM-C", "x@example.jp", "2027-01-04"); err == nil {
		t.Error("an effective day in the past was accepted")
	}
	if _, err := e.d.ChangeContact(ctx, "ENM-C", "a@example.jp, b@example.jp", ""); err == nil {
		t.Error("two addresses were accepted")
	}
}
