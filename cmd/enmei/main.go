// Command enmei is the agent on a customer host: it registers the host with a
// licence key and configures dnf/yum or apt for the vendor's repositories.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/enmei-project/enmei/internal/agent"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := agent.Main(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
