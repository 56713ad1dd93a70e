package web

import (
	"cmp"
	"context"
	"fmt"
	"net/http"
	"net/mail"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/enmei-project/enmei/internal/advisory"
	"github.com/enmei-project/enmei/internal/entitle"
	"github.com/enmei-project/enmei/internal/errs"
	"github.com/enmei-project/enmei/internal/notify"
	"github.com/enmei-project/enmei/internal/store"
	"github.com/enmei-project/enmei/internal/tracker"
)

// SubscriptionStore is what the subscription pages change.
type SubscriptionStore interface {
	AddSubscription(ctx context.Context, s store.Subscription, mail store.Mail) error
	Subscription(ctx context.Context, id string) (store.Subscription, error)
	ConfirmSubscription(ctx context.Context, id string, at time.Time) error
	Unsubscribe(ctx context.Context, id string, at time.Time) error
	Setting(ctx context.Context, name string) ([]byte, error)
	PutSettingIfAbsent(ctx context.Context, name string, value []byte) ([]byte, error)
}

// confirmTTL is how long a confirmation link works.
const confirmTTL = 7 * 24 * time.Hour

func (p *Portal) subscribeRoutes(page func(string, http.HandlerFunc)) {
	page("GET /security/subscribe", p.subscribeForm)
	page("POST /security/subscribe", p.subscribeSubmit)
	page("GET /security/subscribe/confirm", p.subscribeConfirm)
	page("POST /security/subscribe/confirm", p.subscribeConfirm)
	page("GET /security/unsubscribe", p.unsubscribe)
	page("POST /security/unsubscribe", p.unsubscribe)
}

type subscribeData struct {
	State    string // form, sent, confirm, confirmed, unsubscribe, unsubscribed
	Form     subscribeForm
	Products []productOption
	Statuses []advisory.Status
	// Hidden fields of the confirmation buttons.
	ID, Expires, Token string
}

type subscribeForm struct {
	Name, Email, Company, Lang string
	Products, Statuses         map[string]bool
}

func (p *Portal) subscribeData(ctx context.Context, state string) (*subscribeData, error) {
	d := &subscribeData{State: state, Statuses: advisory.Statuses}
	products, err := p.cfg.Store.Products(ctx)
	if err != nil {
		return nil, err
	}
	for _, pr := range products {
		if pr.Format == "rpm" || pr.Format == "deb" {
			d.Products = append(d.Products, productOption{ID: pr.ID, Name: pr.Name})
		}
	}
	return d, nil
}

func (p *Portal) subscribeForm(w http.ResponseWriter, r *http.Request) {
	v := &view{Title: "subscribe.title"}
	if p.cfg.Subscriptions == nil {
		http.NotFound(w, r)
		return
	}
	d, err := p.subscribeData(r.Context(), "form")
	if err != nil {
		p.fail(w, r, v, err)
		return
	}
	v.L = p.locale(r)
	d.Form = subscribeForm{Lang: v.L.Lang, Statuses: map[string]bool{string(advisory.Released): true, string(advisory.Ignored): true, string(advisory.NotVulnerable): true}}
	v.Data = d
	p.render(w, r, http.StatusOK, "subscribe", v)
}

func (p *Portal) subscribeSubmit(w http.ResponseWriter, r *http.Request) {
	v := &view{Title: "subscribe.title"}
	if p.cfg.Subscriptions == nil {
		http.NotFound(w, r)
		return
	}
	ctx := r.Context()
	v.L = p.locale(r)
	d, err := p.subscribeData(ctx, "form")
	if err != nil {
		p.fail(w, r, v, err)
		return
	}
	v.Data = d
	r.ParseForm()
	f := subscribeForm{Name: strings.TrimSpace(r.PostForm.Get("name")), Email: strings.TrimSpace(r.PostForm.Get("email")),
		Company: strings.TrimSpace(r.PostForm.Get("company")), Lang: r.PostForm.Get("lang"), Products: map[string]bool{}, Statuses: map[string]bool{}}
	d.Form = f
	known := map[string]bool{}
	for _, pr := range d.Products {
		known[pr.ID] = true
	}
	var products, statuses []string
	for _, id := range r.PostForm["product"] {
		if !known[id] {
			v.Error = v.L.T("subscribe.bad_product")
			p.render(w, r, http.StatusBadRequest, "subscribe", v)
			return
		}
		f.Products[id] = true
		products = append(products, id)
	}
	for _, st := range r.PostForm["status"] {
		if _, err := advisory.ParseStatus(st); err != nil {
			v.Error = v.L.T("subscribe.bad_status")
			p.render(w, r, http.StatusBadRequest, "subscribe", v)
			return
		}
		f.Statuses[st] = true
		statuses = append(statuses, st)
	}
	d.Form = f
	addr, err := mail.ParseAddress(f.Email)
	switch {
	case f.Name == "" || utf8.RuneCountInString(f.Name) > 100 || strings.ContainsAny(f.Name, "\r\n"):
		v.Error = v.L.T("subscribe.bad_name")
	case err != nil || addr.Address != f.Email || len(f.Email) > 254 || !strings.Contains(f.Email, "@"):
		v.Error = v.L.T("subscribe.bad_email")
	case utf8.RuneCountInString(f.Company) > 100 || strings.ContainsAny(f.Company, "\r\n"):
		v.Error = v.L.T("subscribe.bad_company")
	case len(statuses) == 0:
		v.Error = v.L.T("subscribe.no_status")
	case f.Lang != "ja" && f.Lang != "en":
		v.Error = v.L.T("subscribe.bad_lang")
	}
	if v.Error != "" {
		p.render(w, r, http.StatusBadRequest, "subscribe", v)
		return
	}
	if !p.allow("subscribe-ip:"+p.cfg.ClientAddr(r), 20*time.Second, 5) || !p.allow("subscribe-mail:"+strings.ToLower(f.Email), time.Minute, 3) {
		v.Error = v.L.T("subscribe.too_many")
		p.render(w, r, http.StatusTooManyRequests, "subscribe", v)
		return
	}
	now := p.cfg.Now()
	sub := store.Subscription{ID: "s_" + strings.ToLower(entitle.NewSecret()[:20]), Email: strings.ToLower(f.Email), Name: f.Name, Company: f.Company,
		Lang: f.Lang, Products: products, Statuses: statuses, CreatedAt: now}
	key, err := tracker.SubscriptionKey(ctx, p.cfg.Subscriptions)
	if err != nil {
		p.fail(w, r, v, err)
		return
	}
	exp := now.Add(confirmTTL).Unix()
	link := fmt.Sprintf("%s/security/subscribe/confirm?id=%s&exp=%d&t=%s", strings.TrimRight(p.cfg.PublicURL, "/"), sub.ID, exp, tracker.LinkToken(key, "confirm", sub.ID, exp))
	l := &Locale{Lang: sub.Lang, msgs: p.cats[sub.Lang], log: p.cfg.Log}
	m, err := notify.NewMail(notify.Letter{From: p.cfg.MailFrom, To: sub.Email, Lang: sub.Lang, Date: now,
		Subject: l.T("mail.subscribe_subject"), Text: fmt.Sprintf(l.T("mail.subscribe_body"), sub.Name, link, int(confirmTTL/(24*time.Hour)))})
	if err != nil {
		v.Error = v.L.T("subscribe.bad_email")
		p.render(w, r, http.StatusBadRequest, "subscribe", v)
		return
	}
	if err := p.cfg.Subscriptions.AddSubscription(ctx, sub, m); err != nil {
		p.fail(w, r, v, err)
		return
	}
	if p.cfg.MailQueued != nil {
		p.cfg.MailQueued()
	}
	d.State = "sent"
	p.render(w, r, http.StatusOK, "subscribe", v)
}

// linkParams reads a subscription link's fields from the query or a form.
func linkParams(r *http.Request) (id string, exp int64, token string) {
	r.ParseForm()
	exp, _ = strconv.ParseInt(r.Form.Get("exp"), 10, 64)
	return r.Form.Get("id"), exp, r.Form.Get("t")
}

// subscribeConfirm shows a button (GET: mail scanners open links, and
// must not confirm anything) that confirms the address (POST).
func (p *Portal) subscribeConfirm(w http.ResponseWriter, r *http.Request) {
	v := &view{Title: "subscribe.title"}
	if p.cfg.Subscriptions == nil {
		http.NotFound(w, r)
		return
	}
	ctx := r.Context()
	id, exp, token := linkParams(r)
	key, err := tracker.SubscriptionKey(ctx, p.cfg.Subscriptions)
	if err != nil {
		p.fail(w, r, v, err)
		return
	}
	if !tracker.CheckLinkToken(key, "confirm", id, exp, token) || p.cfg.Now().Unix() > exp {
		p.fail(w, r, v, errs.E(errs.Invalid, "%s", p.locale(r).T("subscribe.bad_link")))
		return
	}
	d := &subscribeData{State: "confirm", ID: id, Expires: strconv.FormatInt(exp, 10), Token: token}
	v.Data = d
	if r.Method == http.MethodPost {
		if err := p.cfg.Subscriptions.ConfirmSubscription(ctx, id, p.cfg.Now()); err != nil {
			p.fail(w, r, v, err)
			return
		}
		d.State = "confirmed"
	}
	p.render(w, r, http.StatusOK, "subscribe", v)
}

// unsubscribe shows a button (GET) and ends the subscription (POST, also
// the one-click POST mail clients send for List-Unsubscribe-Post).
func (p *Portal) unsubscribe(w http.ResponseWriter, r *http.Request) {
	v := &view{Title: "subscribe.unsubscribe_title"}
	if p.cfg.Subscriptions == nil {
		http.NotFound(w, r)
		return
	}
	ctx := r.Context()
	id, _, token := linkParams(r)
	key, err := tracker.SubscriptionKey(ctx, p.cfg.Subscriptions)
	if err != nil {
		p.fail(w, r, v, err)
		return
	}
	if !tracker.CheckLinkToken(key, "unsubscribe", id, 0, token) {
		p.fail(w, r, v, errs.E(errs.Invalid, "%s", p.locale(r).T("subscribe.bad_link")))
		return
	}
	d := &subscribeData{State: "unsubscribe", ID: id, Token: token}
	v.Data = d
	if r.Method == http.MethodPost {
		if err := p.cfg.Subscriptions.Unsubscribe(ctx, id, p.cfg.Now()); err != nil {
			p.fail(w, r, v, err)
			return
		}
		d.State = "unsubscribed"
	}
	p.render(w, r, http.StatusOK, "subscribe", v)
}

// NoticeMail writes a subscriber's mail about tracker changes, in the
// subscriber's language, with a one-click unsubscribe link.
func (p *Portal) NoticeMail(ctx context.Context, sub store.Subscription, changes []advisory.Change) (notify.Letter, error) {
	key, err := tracker.SubscriptionKey(ctx, p.cfg.Subscriptions)
	if err != nil {
		return notify.Letter{}, err
	}
	base := strings.TrimRight(p.cfg.PublicURL, "/")
	unsub := base + "/security/unsubscribe?" + url.Values{"id": {sub.ID}, "t": {tracker.LinkToken(key, "unsubscribe", sub.ID, 0)}}.Encode()
	l := &Locale{Lang: sub.Lang, msgs: p.cats[sub.Lang], log: p.cfg.Log}
	names := map[string]string{}
	if products, err := p.cfg.Store.Products(ctx); err == nil {
		for _, pr := range products {
			names[pr.ID] = pr.Name
		}
	}
	var b strings.Builder
	fmt.Fprintf(&b, l.T("mail.notice_intro"), sub.Name)
	b.WriteString("\n\n")
	for _, c := range changes {
		to := l.T("status." + string(c.To))
		line := fmt.Sprintf("%s (%s): %s", c.CVE, cmp.Or(names[c.Product], c.Product), to)
		if c.From != "" {
			line = fmt.Sprintf("%s (%s): %s → %s", c.CVE, cmp.Or(names[c.Product], c.Product), l.T("status."+string(c.From)), to)
		}
		if id, ok := strings.CutPrefix(c.Source, "advisory "); ok {
			line += fmt.Sprintf(" — %s %s/security/advisory/%s", id, base, id)
		}
		fmt.Fprintf(&b, "- %s\n  %s/security/cve/%s\n", line, base, c.CVE)
		if c.Statement != "" {
			fmt.Fprintf(&b, "  %s\n", c.Statement)
		}
	}
	b.WriteString("\n")
	fmt.Fprintf(&b, l.T("mail.notice_footer"), unsub)
	subject := fmt.Sprintf(l.T("mail.notice_subject"), changes[0].CVE)
	if len(changes) > 1 {
		subject = fmt.Sprintf(l.T("mail.notice_subject_more"), changes[0].CVE, len(changes)-1)
	}
	return notify.Letter{From: p.cfg.MailFrom, To: sub.Email, Lang: sub.Lang, Subject: subject, Text: b.String(), Unsubscribe: unsub}, nil
}
