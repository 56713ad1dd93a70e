// Command enmeid is the enmei vendor server and its admin sub-commands.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/enmei-project/enmei/internal/admin"
)

func main() {
	ctx, cancel := context.WithCancelCause(context.Background())
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	go func() {
		s := <-sigs
		// A second signal stops the process at once.
		signal.Stop(sigs)
		if s == os.Interrupt {
			cancel(admin.ErrInterrupted)
		} else {
			cancel(admin.ErrTerminated)
		}
	}()
	code := admin.Main(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr)
	cancel(nil)
	os.Exit(code)
}
