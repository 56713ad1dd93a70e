package server

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"regexp"
	"strconv"
	"time"

	"github.com/enmei-project/enmei/internal/api"
	"github.com/enmei-project/enmei/internal/bytesize"
	"github.com/enmei-project/enmei/internal/errs"
	"github.com/enmei-project/enmei/internal/store"
)

// Desk is the support desk as the ticket-attachment API uses it
// (*desk.Desk): the host's credential stands for its contract, and the desk
// decides what a ticket does with the file.
type Desk interface {
	// AttachmentLimit is the largest file the desk keeps, in bytes.
	AttachmentLimit(ctx context.Context) (int64, error)
	// HostTicket returns ticket n if it is the contract's (NotFound, the
	// same for every other ticket, if not).
	HostTicket(ctx context.Context, supportID string, n int64) (store.Ticket, error)
	// AttachFromHost keeps the file and adds it to the ticket as the
	// customer's message.
	AttachFromHost(ctx context.Context, h store.Host, n int64, name string, body io.Reader) (store.TicketAttachment, error)
}

// uploadTime is how long a host may take to send a file.
const uploadTime = 10 * time.Minute

// ticketShape is a ticket as the agent names it: ENM-T-000123 or 123.
var ticketShape = regexp.MustCompile(`^(?i:ENM-T-)?0*([1-9][0-9]{0,17})$`)

// ticketAttachment takes a file a host sends to one of its contract's
// tickets (enmei support-bundle --ticket): POST
// /api/v1/tickets/{ticket}/attachments?name=FILE with the file as the body.
// The ticket is checked before a byte of the body is read, and the body is
// never read past the desk's attachment limit.
func (s *Server) ticketAttachment(w http.ResponseWriter, r *http.Request) {
	host, contract, err := s.authHost(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if s.cfg.Desk == nil {
		s.fail(w, r, errs.E(errs.NotFound, "this server has no support desk: send the bundle to the vendor's support address by mail"))
		return
	}
	ctx := r.Context()
	m := ticketShape.FindStringSubmatch(r.PathValue("ticket"))
	if m == nil {
		s.fail(w, r, errs.E(errs.NotFound, "%.32q is not a ticket number: give it as in the support desk's mail, e.g. ENM-T-000123", r.PathValue("ticket")))
		return
	}
	n, _ := strconv.ParseInt(m[1], 10, 64) // at most 18 digits: always an int64
	t, err := s.cfg.Desk.HostTicket(ctx, contract.SupportID, n)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	limit, err := s.cfg.Desk.AttachmentLimit(ctx)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if r.ContentLength > limit {
		s.tooLarge(w, r, limit)
		return
	}
	// enmeid serve bounds reading a request at 30 s, made for small API
	// documents; a bundle of 20 MiB from a host on a slow line needs longer,
	// and only an authenticated host of a valid contract gets here.
	if err := http.NewResponseController(w).SetReadDeadline(time.Now().Add(uploadTime)); err != nil && !errors.Is(err, http.ErrNotSupported) {
		s.fail(w, r, err)
		return
	}
	att, err := s.cfg.Desk.AttachFromHost(ctx, host, t.Number, r.URL.Query().Get("name"), http.MaxBytesReader(w, r.Body, limit))
	var mb *http.MaxBytesError
	if errors.As(err, &mb) {
		s.tooLarge(w, r, limit)
		return
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		s.writeError(w, r, http.StatusRequestTimeout, "timeout",
			fmt.Sprintf("the file took longer than %.0f minutes to arrive: send it again over a faster line, or mail it to the support desk", uploadTime.Minutes()))
		return
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusCreated)
	writeJSON(w, api.Attached{Ticket: fmt.Sprintf("ENM-T-%06d", t.Number), Filename: att.Filename, Size: att.Size, SHA256: att.Blob})
}

// tooLarge refuses a file over the desk's limit with 413, naming it.
func (s *Server) tooLarge(w http.ResponseWriter, r *http.Request, limit int64) {
	s.writeError(w, r, http.StatusRequestEntityTooLarge, "too_large",
		fmt.Sprintf("the file is larger than the support desk's limit of %s: send a smaller bundle, or ask the vendor to raise the limit", bytesize.Exact(limit)))
}
