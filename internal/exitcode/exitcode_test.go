package exitcode

import (
	"errors"
	"fmt"
	"testing"

	"github.com/spf13/cobra"

	"github.com/enmei-project/enmei/internal/errs"
)

func tree() *cobra.Command {
	root := &cobra.Command{Use: "x", SilenceErrors: true, SilenceUsage: true}
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error { return AsUsage(err) })
	var name string
	add := &cobra.Command{Use: "add ID", Args: cobra.ExactArgs(1), RunE: func(*cobra.Command, []string) error { return nil }}
	add.Flags().StringVar(&name, "name", "", "")
	add.MarkFlagRequired("name")
	fail := &cobra.Command{Use: "fail", RunE: func(*cobra.Command, []string) error {
		// An error whose text looks like cobra's must not become a usage error.
		return errs.E(errs.Entitlement, "unknown command: required flag accepts 1 arg(s)")
	}}
	group := &cobra.Command{Use: "group"}
	group.AddCommand(add, fail)
	root.AddCommand(group)
	TypeArgs(root)
	return root
}

func TestExitCodes(t *testing.T) {
	for _, tt := range []struct {
		args []string
		want int
	}{
		{[]string{"group", "add", "a", "--name", "n"}, OK},
		{[]string{"group", "add", "--name", "n"}, Usage},
		{[]string{"group", "add", "a"}, Usage},
		{[]string{"group", "add", "a", "--nope"}, Usage},
		{[]string{"group", "nope"}, Usage},
		{[]string{"nope"}, Usage},
		{[]string{"group", "fail"}, Entitlement},
	} {
		t.Run(fmt.Sprint(tt.args), func(t *testing.T) {
			root := tree()
			root.SetArgs(tt.args)
			if got := For(root.Execute()); got != tt.want {
				t.Errorf("exit code for %v = %d, want %d", tt.args, got, tt.want)
			}
		})
	}
	if For(errs.Wrap(errs.Unavailable, errors.New("x"), "down")) != Unreachable || For(errors.New("x")) != Failure {
		t.Error("domain kinds map wrongly")
	}
}
