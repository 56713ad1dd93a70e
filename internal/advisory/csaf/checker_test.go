package csaf

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync/atomic"
	"testing"
	"time"

	"github.com/enmei-project/enmei/internal/sign"
	"github.com/enmei-project/enmei/internal/testutil/csafcheck"
)

// TestChecker serves a Build's tree over HTTPS on 127.0.0.1 and runs the
// real csaf_checker against the domain, as an aggregator or auditor would.
func TestChecker(t *testing.T) {
	key, err := sign.Generate("Example ELS", "security@example.com", time.Now().Add(-time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	pub, err := key.PublicKey().ArmoredPublic()
	if err != nil {
		t.Fatal(err)
	}
	b := newBlobs()
	var cur atomic.Pointer[Manifest]
	h := Handler(func(context.Context) (*Manifest, error) { return cur.Load(), nil }, b.open)
	mux := http.NewServeMux()
	mux.Handle(CSAFPath, h)
	mux.Handle(SecurityTxtPath, h)
	srv := httptest.NewUnstartedServer(mux)
	srv.StartTLS()
	defer srv.Close()
	u, _ := url.Parse(srv.URL)

	advs, recs, hist := fixture(t)
	opts := testOptions()
	opts.PublicURL = srv.URL
	opts.PublicKeyArmored = pub
	opts.Fingerprint = key.Fingerprint()
	opts.Now = time.Now
	m, err := Build(context.Background(), nil, snapshot(advs, recs), historyOf(hist), key, opts, b.put)
	if err != nil {
		t.Fatal(err)
	}
	cur.Store(m)

	csafcheck.Check(t, u.Host)
}
