// Package errs gives enmei's domain errors a kind, so that the one place that
// talks to users — the HTTP layer or the CLI — can map a failure to a status
// code or exit code without knowing where it came from.
package errs

import (
	"errors"
	"fmt"
)

// Kind classifies a domain error.
type Kind int

// The kinds of failure enmei distinguishes.
const (
	Other        Kind = iota
	Invalid           // malformed input: a bad flag, a corrupt package, a wrong format
	NotFound          // no such product, repository, contract, host or publication
	Exists            // the thing being created exists already
	Unauthorized      // missing or wrong credentials (HTTP 401)
	Forbidden         // valid credentials without the entitlement (HTTP 403)
	Entitlement       // refused by the licence: unknown key, no seat, contract not valid (exit 3)
	Unavailable       // the server could not be reached (exit 4)
)

func (k Kind) String() string {
	switch k {
	case Invalid:
		return "invalid"
	case NotFound:
		return "not found"
	case Exists:
		return "already exists"
	case Unauthorized:
		return "unauthorized"
	case Forbidden:
		return "forbidden"
	case Entitlement:
		return "refused by the entitlement"
	case Unavailable:
		return "unavailable"
	}
	return "error"
}

// Error is a domain error: a kind and a message meant for the user.
type Error struct {
	Kind Kind
	Msg  string
	Err  error // optional cause
}

func (e *Error) Error() string {
	if e.Err != nil && e.Msg == "" {
		return e.Err.Error()
	}
	return e.Msg
}

func (e *Error) Unwrap() error { return e.Err }

// E makes a domain error of kind k with a formatted message.
func E(k Kind, format string, args ...any) error {
	return &Error{Kind: k, Msg: fmt.Sprintf(format, args...)}
}

// Wrap makes a domain error of kind k whose message is msg and whose cause is err.
func Wrap(k Kind, err error, msg string) error {
	return &Error{Kind: k, Msg: msg, Err: err}
}

// KindOf returns the kind of the first domain error in err's chain, or Other.
func KindOf(err error) Kind {
	var e *Error
	if errors.As(err, &e) {
		return e.Kind
	}
	return Other
}

// Is reports whether err is a domain error of kind k.
func Is(err error, k Kind) bool { return err != nil && KindOf(err) == k }
