package e2e

import "syscall"

const syscallTERM = syscall.SIGTERM
