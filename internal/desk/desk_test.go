package desk_test

import (
	"bytes"
	"context"
	"fmt"
	"mime"
	"path/filepath"
	"strings"
	"testing"
	"time"

	gomail "github.com/emersion/go-message/mail"
	"golang.org/x/text/encoding/japanese"

	blobfs "github.com/enmei-project/enmei/internal/blob/fs"
	"github.com/enmei-project/enmei/internal/desk"
	"github.com/enmei-project/enmei/internal/entitle"
	"github.com/enmei-project/enmei/internal/mailin"
	"github.com/enmei-project/enmei/internal/store"
	"github.com/enmei-project/enmei/internal/store/sqlite"
)

var ctx = context.Background()

const contact = "ops@example.co.jp"

type env struct {
	t   *testing.T
	st  *sqlite.DB
	d   *desk.Desk
	now time.Time
	seq int
}

func jst(s string) time.Time {
	t, err := time.ParseInLocation("2006-01-02 15:04", s, entitle.Tokyo)
	if err != nil {
		panic(err)
	}
	return t
}

func setup(t *testing.T) *env {
	t.Helper()
	dir := t.TempDir()
	st, err := sqlite.Open(ctx, filepath.Join(dir, "db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	blobs, err := blobfs.Open(filepath.Join(dir, "blobs"))
	if err != nil {
		t.Fatal(err)
	}
	if err := st.AddProduct(ctx, store.Product{ID: "el9", Name: "EL9", Format: "rpm"}); err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, st: st, now: jst("2026-12-01 10:00")}
	e.d = &desk.Desk{Store: st, Blobs: blobs, Now: func() time.Time { return e.now },
		Config: &desk.Config{Address: "support@vendor.example", Name: "サポート", FirstResponse: desk.Duration(4 * time.Hour), MaxAttachment: 1 << 20}}
	return e
}

func (e *env) contract(id string, inquiries int, start, end string) {
	e.t.Helper()
	c := store.Contract{SupportID: id, Customer: "株式会社テスト", Plan: "server", Products: []string{"el9"}, Quantity: 1,
		Start: start, End: end, Contact: contact, Inquiries: inquiries, CreatedAt: e.now}
	if err := e.st.AddContract(ctx, c, nil); err != nil {
		e.t.Fatal(err)
	}
}

// iso2022 builds a Japanese mail as Japanese mail clients send it.
func (e *env) iso2022(from, subject, body string, hdr map[string]string) []byte {
	e.seq++
	enc := japanese.ISO2022JP.NewEncoder()
	sub, _ := enc.String(subject)
	b, _ := japanese.ISO2022JP.NewEncoder().String(body)
	var buf bytes.Buffer
	fmt.Fprintf(&buf, "From: %s\r\nTo: support@vendor.example\r\nSubject: %s\r\nMessage-ID: <m%d.%d@example.co.jp>\r\n",
		from, mime.BEncoding.Encode("ISO-2022-JP", sub), e.seq, e.now.UnixNano())
	for k, v := range hdr {
		fmt.Fprintf(&buf, "%s: %s\r\n", k, v)
	}
	fmt.Fprintf(&buf, "Date: %s\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=ISO-2022-JP\r\nContent-Transfer-Encoding: 7bit\r\n\r\n%s\r\n",
		e.now.Format(time.RFC1123Z), strings.ReplaceAll(b, "\n", "\r\n"))
	return buf.Bytes()
}

func (e *env) receive(msg []byte) desk.Result {
	e.t.Helper()
	r, err := e.d.Receive(ctx, bytes.NewReader(msg))
	if err != nil {
		e.t.Fatal(err)
	}
	return r
}

func (e *env) ticket(n int64) store.Ticket {
	e.t.Helper()
	t, err := e.st.Ticket(ctx, n)
	if err != nil {
		e.t.Fatal(err)
	}
	return t
}

// outbox returns the queued mails, oldest first, parsed.
func (e *env) outbox() []*mailin.Message {
	e.t.Helper()
	ms, err := e.st.Mails(ctx, 1000)
	if err != nil {
		e.t.Fatal(err)
	}
	var out []*mailin.Message
	for i := len(ms) - 1; i >= 0; i-- {
		m, err := mailin.Parse(bytes.NewReader(ms[i].Message), mailin.Limits{})
		if err != nil {
			e.t.Fatal(err)
		}
		out = append(out, m)
	}
	return out
}

func (e *env) last() *mailin.Message {
	o := e.outbox()
	if len(o) == 0 {
		e.t.Fatal("no mail was queued")
	}
	return o[len(o)-1]
}

func (e *env) used(id string) int {
	c, _ := e.st.Contract(ctx, id)
	v, err := e.d.Allowance(ctx, c)
	if err != nil {
		e.t.Fatal(err)
	}
	return v.Used
}

func TestCountedMatters(t *testing.T) {
	e := setup(t)
	e.contract("ENM-A", 2, "2026-04-01", "2028-03-31") // two contract years

	// A new matter asks for confirmation and consumes nothing yet.
	r := e.receive(e.iso2022(contact, "サーバーが起動しません", "山田です。\nカーネル更新後に起動しません。\n", nil))
	if r.Action != desk.Opened {
		t.Fatalf("first mail: %+v", r)
	}
	first := e.ticket(r.Ticket)
	if first.Status != store.TicketWaiting || first.Waiting != store.WaitConfirmation || first.Consumed || first.Subject != "サーバーが起動しません" {
		t.Fatalf("new matter = %+v", first)
	}
	ask := e.last()
	tag := "[" + mailin.FormatTag(first.Number) + "]"
	if !strings.Contains(ask.Subject, tag) || !strings.Contains(ask.Text, first.ConfirmWord) || !strings.Contains(ask.Text, "残り回数: 2 回") {
		t.Fatalf("auto-reply: %q\n%s", ask.Subject, ask.Text)
	}
	if ask.To[0] != contact || len(ask.InReplyTo) != 1 {
		t.Errorf("auto-reply to %v, In-Reply-To %v", ask.To, ask.InReplyTo)
	}

	// A reply that only quotes the auto-reply (which holds the word) does
	// not confirm.
	e.now = e.now.Add(time.Minute)
	quoted := "追加の情報です。\n\n> " + strings.ReplaceAll(ask.Text, "\n", "\n> ")
	r = e.receive(e.iso2022(contact, "Re: "+ask.Subject, quoted, map[string]string{"In-Reply-To": "<" + ask.MessageID + ">"}))
	if r.Action != desk.Continued || e.ticket(first.Number).Consumed {
		t.Fatalf("quoted word confirmed the matter: %+v", r)
	}
	// Written by the customer (full-width letters too), it does.
	e.now = e.now.Add(time.Minute)
	word := strings.Replace(first.ConfirmWord, "CONFIRM", "ＣＯＮＦＩＲＭ", 1)
	r = e.receive(e.iso2022(contact, "Re: "+ask.Subject, "お願いします。"+word+"\n", nil))
	if r.Action != desk.Confirmed {
		t.Fatalf("confirmation: %+v", r)
	}
	got := e.ticket(first.Number)
	if got.Status != store.TicketOpen || !got.Consumed || got.YearStart != "2026-04-01" || e.used("ENM-A") != 1 {
		t.Fatalf("confirmed = %+v, used %d", got, e.used("ENM-A"))
	}
	// The first-response clock restarts at the confirmation, in support hours.
	if want := e.now.Add(4 * time.Hour); !got.DueAt.Equal(jst("2026-12-01 15:02")) {
		t.Errorf("due %v, want %v (4 support hours across lunch)", got.DueAt.In(entitle.Tokyo), want)
	}
	// Follow-ups on the same matter are free, tagged or threaded.
	for i := 0; i < 3; i++ {
		e.now = e.now.Add(time.Hour)
		r = e.receive(e.iso2022(contact, "Re: "+tag+" サーバーが起動しません", "続きです。", nil))
		if r.Action != desk.Continued || r.Ticket != first.Number {
			t.Fatalf("follow-up %d: %+v", i, r)
		}
	}
	if e.used("ENM-A") != 1 {
		t.Fatalf("follow-ups consumed: used %d", e.used("ENM-A"))
	}

	// The second matter uses the last one; the third is stopped.
	second := e.confirmNew("別件: パッケージの質問")
	if e.used("ENM-A") != 2 || !e.ticket(second).Consumed {
		t.Fatal("second matter not counted")
	}
	r = e.receive(e.iso2022(contact, "三件目の質問", "質問です。", nil))
	third := e.ticket(r.Ticket)
	if r.Action != desk.Opened || third.Status != store.TicketWaiting || third.Waiting != store.WaitAllowance || third.Consumed {
		t.Fatalf("third matter = %+v", third)
	}
	if m := e.last(); !strings.Contains(m.Subject, "上限") || !strings.Contains(m.Text, "使用済み") {
		t.Errorf("third matter's answer: %q\n%s", m.Subject, m.Text)
	}
	if e.used("ENM-A") != 2 {
		t.Fatal("the stopped matter consumed")
	}

	// Closed as the vendor's fault, the second gives its inquiry back.
	if _, err := e.d.Close(ctx, second, true); err != nil {
		t.Fatal(err)
	}
	if e.used("ENM-A") != 1 {
		t.Fatalf("vendor-fault close: used %d, want 1", e.used("ENM-A"))
	}
	if m := e.last(); !strings.Contains(m.Text, "お返ししました") {
		t.Errorf("close mail: %s", m.Text)
	}

	// The next contract year starts afresh; nothing carries over.
	e.now = jst("2027-04-01 09:30")
	c, _ := e.st.Contract(ctx, "ENM-A")
	v, err := e.d.Allowance(ctx, c)
	if err != nil {
		t.Fatal(err)
	}
	if v.YearStart != "2027-04-01" || v.YearEnd != "2028-03-31" || v.Used != 0 || *v.Left != 2 {
		t.Fatalf("second year allowance = %+v", v)
	}
}

// confirmNew opens a new matter and confirms it; it returns the ticket.
func (e *env) confirmNew(subject string) int64 {
	e.t.Helper()
	e.now = e.now.Add(time.Minute)
	r := e.receive(e.iso2022(contact, subject, "質問です。", nil))
	tk := e.ticket(r.Ticket)
	e.now = e.now.Add(time.Minute)
	r = e.receive(e.iso2022(contact, "Re: ["+mailin.FormatTag(tk.Number)+"] "+subject, tk.ConfirmWord, nil))
	if r.Action != desk.Confirmed {
		e.t.Fatalf("confirming %q: %+v", subject, r)
	}
	return tk.Number
}

func TestStrangersAndExpiredContracts(t *testing.T) {
	e := setup(t)
	e.contract("ENM-S", 2, "2026-04-01", "2027-03-31")
	e.contract("ENM-OLD", 2, "2024-04-01", "2025-03-31")

	r := e.receive(e.iso2022("someone@elsewhere.example", "質問", "こんにちは", nil))
	if r.Action != desk.Dropped || r.Ticket != 0 {
		t.Fatalf("stranger: %+v", r)
	}
	// A stranger cannot continue a ticket by naming its tag either.
	r = e.receive(e.iso2022(contact, "質問", "本文", nil))
	r = e.receive(e.iso2022("someone@elsewhere.example", "Re: ["+mailin.FormatTag(r.Ticket)+"] 質問", "割り込み", nil))
	if r.Action != desk.Dropped {
		t.Fatalf("stranger on a ticket: %+v", r)
	}
	all, _ := e.st.Tickets(ctx, store.TicketFilter{})
	if len(all) != 1 {
		t.Fatalf("%d tickets, want 1", len(all))
	}
	if n := len(e.outbox()); n != 1 {
		t.Fatalf("%d mails queued; strangers get no answer unless refusals are on", n)
	}
	// With refusals on, the stranger is told.
	e.d.Config.RefuseStrangers = true
	e.receive(e.iso2022("someone@elsewhere.example", "質問", "こんにちは", nil))
	if m := e.last(); m.To[0] != "someone@elsewhere.example" || !strings.Contains(m.Text, "技術担当者") {
		t.Fatalf("refusal: %v %s", m.To, m.Text)
	}
	// Automatic mail never gets an answer, even with refusals on.
	before := len(e.outbox())
	r = e.receive(e.iso2022(contact, "不在通知", "不在です", map[string]string{"Auto-Submitted": "auto-replied"}))
	if r.Action != desk.Dropped || len(e.outbox()) != before {
		t.Fatalf("auto-reply: %+v", r)
	}
	// The same message delivered twice is handled once.
	msg := e.iso2022(contact, "二重配送", "本文", nil)
	r1, r2 := e.receive(msg), e.receive(msg)
	if r1.Action != desk.Opened || r2.Action != desk.Duplicate || r2.Ticket != r1.Ticket {
		t.Fatalf("redelivery: %+v then %+v", r1, r2)
	}
}

func TestContactOfSeveralContracts(t *testing.T) {
	e := setup(t)
	e.contract("ENM-EXP", 2, "2024-04-01", "2025-03-31") // expired: never picked
	e.contract("ENM-ONE", 2, "2026-01-01", "2026-12-31")
	e.contract("ENM-TWO", 2, "2026-02-01", "2027-01-31")
	r := e.receive(e.iso2022(contact, "ENM-ONE の件", "質問", nil))
	if got := e.ticket(r.Ticket).SupportID; got != "ENM-ONE" {
		t.Errorf("support ID in the subject: ticket on %s", got)
	}
	r = e.receive(e.iso2022(contact, "質問", "質問", nil))
	if got := e.ticket(r.Ticket).SupportID; got == "ENM-EXP" {
		t.Errorf("a ticket was opened on an expired contract")
	}
}

func TestOneAtATime(t *testing.T) {
	e := setup(t)
	e.contract("ENM-U", entitle.Unlimited, "2026-04-01", "2027-03-31")
	var nums []int64
	for i := 0; i < 3; i++ {
		e.now = e.now.Add(time.Minute)
		r := e.receive(e.iso2022(contact, fmt.Sprintf("質問 %d", i+1), "本文", nil))
		tk := e.ticket(r.Ticket)
		if tk.Status != store.TicketOpen || tk.Consumed {
			t.Fatalf("unlimited contract: %+v", tk)
		}
		nums = append(nums, tk.Number)
	}
	if m := e.last(); !strings.Contains(m.Text, "3 番目") {
		t.Errorf("queue position: %s", m.Text)
	}
	order := func() []int64 {
		q, err := e.d.Queue(ctx, "ENM-U")
		if err != nil {
			t.Fatal(err)
		}
		var out []int64
		for _, x := range q {
			out = append(out, x.Number)
		}
		return out
	}
	if got := order(); fmt.Sprint(got) != fmt.Sprint(nums) {
		t.Fatalf("arrival order %v, want %v", got, nums)
	}
	// The customer puts the third first.
	if err := e.d.Prioritise(ctx, "ENM-U", []int64{nums[2]}); err != nil {
		t.Fatal(err)
	}
	if got, want := order(), []int64{nums[2], nums[0], nums[1]}; fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("prioritised %v, want %v", got, want)
	}
	// Once the vendor investigates one, it stays first.
	if _, err := e.d.Reply(ctx, nums[1], "調査します。"); err != nil {
		t.Fatal(err)
	}
	if got := order(); got[0] != nums[1] {
		t.Fatalf("the ticket under investigation is not first: %v", got)
	}
	if err := e.d.Prioritise(ctx, "ENM-U", []int64{999}); err == nil {
		t.Error("a ticket of nobody was prioritised")
	}
	c, _ := e.st.Contract(ctx, "ENM-U")
	if v, _ := e.d.Allowance(ctx, c); v.Total != nil || v.Left != nil {
		t.Errorf("unlimited allowance = %+v", v)
	}
}

func TestVendorActions(t *testing.T) {
	e := setup(t)
	e.contract("ENM-V", 2, "2026-04-01", "2027-03-31")
	en := store.Contract{SupportID: "ENM-EN", Customer: "ACME", Plan: "server", Products: []string{"el9"}, Quantity: 1,
		Start: "2026-04-01", End: "2027-03-31", Contact: "it@acme.example", Lang: "en"}
	if err := e.st.AddContract(ctx, en, nil); err != nil {
		t.Fatal(err)
	}
	n := e.confirmNew("ログの見方")
	msgs, _ := e.st.TicketMessages(ctx, n)
	// The vendor's reply threads under the customer's mails.
	if _, err := e.d.Reply(ctx, n, "次のコマンドを実行してください。"); err != nil {
		t.Fatal(err)
	}
	m := e.last()
	if !strings.HasPrefix(m.Subject, "Re: ["+mailin.FormatTag(n)+"]") || m.InReplyTo[0] != msgs[len(msgs)-1].MessageID || len(m.References) < 2 {
		t.Errorf("reply threading: %q In-Reply-To %v References %v", m.Subject, m.InReplyTo, m.References)
	}
	if tk := e.ticket(n); tk.RespondedAt.IsZero() {
		t.Error("the first reply did not stop the first-response clock")
	}
	// Out of scope needs a reason and tells the customer in their language.
	if _, err := e.d.Scope(ctx, n, 6, ""); err == nil {
		t.Error("out of scope without a reason was accepted")
	}
	if _, err := e.d.Scope(ctx, n, 11, "x"); err == nil {
		t.Error("level 11 was accepted")
	}
	if _, err := e.d.Scope(ctx, n, 6, "ダンプ解析は対象外です"); err != nil {
		t.Fatal(err)
	}
	if m := e.last(); !strings.Contains(m.Text, "ダンプ解析") || !strings.Contains(m.Subject, "範囲外") {
		t.Errorf("out-of-scope mail: %q %s", m.Subject, m.Text)
	}
	// A follow-up the vendor judges a new matter asks the customer again.
	e.now = e.now.Add(time.Hour)
	e.receive(e.iso2022(contact, "Re: ["+mailin.FormatTag(n)+"] ログの見方", "ところで別のサーバーでも質問があります。", nil))
	split, err := e.d.NewMatter(ctx, n)
	if err != nil {
		t.Fatal(err)
	}
	if split.Number == n || split.Waiting != store.WaitConfirmation || split.Consumed {
		t.Fatalf("new matter = %+v", split)
	}
	if m := e.last(); !strings.Contains(m.Text, split.ConfirmWord) || !strings.Contains(m.Text, mailin.FormatTag(n)) {
		t.Errorf("new-matter mail: %s", m.Text)
	}
	if e.used("ENM-V") != 1 {
		t.Fatal("marking a new matter consumed before the customer confirmed")
	}
	// The portal's button confirms like the word does.
	if _, err := e.d.Confirm(ctx, "ENM-OTHER", split.Number); err == nil {
		t.Error("another contract confirmed the ticket")
	}
	if _, err := e.d.Confirm(ctx, "ENM-V", split.Number); err != nil {
		t.Fatal(err)
	}
	if e.used("ENM-V") != 2 {
		t.Fatal("the portal confirmation did not consume")
	}
	// English customers get English mail.
	e.now = e.now.Add(time.Hour)
	r := e.receive(e.iso2022("it@acme.example", "Kernel panic", "Help", nil))
	if m := e.last(); m.To[0] != "it@acme.example" || !strings.Contains(m.Text, "confirm it") || !strings.Contains(m.Subject, mailin.FormatTag(r.Ticket)) {
		t.Errorf("English auto-reply: %q %s", m.Subject, m.Text)
	}
}

func TestAttachmentsAreKept(t *testing.T) {
	e := setup(t)
	e.contract("ENM-B", 2, "2026-04-01", "2027-03-31")
	var buf bytes.Buffer
	var h gomail.Header
	h.SetAddressList("From", []*gomail.Address{{Address: contact}})
	h.SetAddressList("To", []*gomail.Address{{Address: "support@vendor.example"}})
	h.SetSubject("ログを送ります")
	h.SetMessageID("att1@example.co.jp")
	w, err := gomail.CreateWriter(&buf, h)
	if err != nil {
		t.Fatal(err)
	}
	var th gomail.InlineHeader
	th.Set("Content-Type", "text/plain; charset=utf-8")
	tw, _ := w.CreateSingleInline(th)
	tw.Write([]byte("サポートバンドルです。"))
	tw.Close()
	var ah gomail.AttachmentHeader
	ah.Set("Content-Type", "application/gzip")
	ah.SetFilename("enmei-bundle.tar.gz")
	aw, _ := w.CreateAttachment(ah)
	aw.Write(bytes.Repeat([]byte{0x1f, 0x8b}, 500))
	aw.Close()
	var big gomail.AttachmentHeader
	big.Set("Content-Type", "application/octet-stream")
	big.SetFilename("core.dump")
	bw, _ := w.CreateAttachment(big)
	bw.Write(bytes.Repeat([]byte("x"), 2<<20)) // over the 1 MiB limit
	bw.Close()
	w.Close()
	r := e.receive(buf.Bytes())
	msgs, _ := e.st.TicketMessages(ctx, r.Ticket)
	atts := msgs[0].Attachments
	if len(atts) != 2 || atts[0].Filename != "enmei-bundle.tar.gz" || atts[0].Blob == "" || atts[0].Size != 1000 ||
		!atts[1].Dropped || atts[1].Blob != "" {
		t.Fatalf("attachments = %+v", atts)
	}
	rc, _, err := e.d.Blobs.Open(ctx, atts[0].Blob)
	if err != nil {
		t.Fatal(err)
	}
	rc.Close()
}
