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
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := admin.Main(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
