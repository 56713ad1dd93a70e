// Command printversion prints version.Get, for the link-time override test.
package main

import (
	"fmt"

	"github.com/enmei-project/enmei/internal/version"
)

func main() {
	i := version.Get()
	fmt.Printf("%s|%s|%s\n", i.Version, i.Commit, i.String())
}
