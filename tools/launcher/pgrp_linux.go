package main

import (
	"os"
	"syscall"
	"unsafe"
)

// ownProcessGroup puts the launcher in a process group of its own, as
// `dapr run -f` does, so that `dapr stop -f` (SIGINT to the process group
// of the cliPID the launcher publishes) reaches the launcher and not
// whatever started it. Not in a terminal's foreground job, though (`make
// run` typed in a shell): there it stays in the job's group, so that
// Ctrl-C reaches it, and `dapr stop -f` interrupts the job as Ctrl-C would.
// The apps and sidecars have process groups of their own either way.
func ownProcessGroup() {
	if tty, err := os.Open("/dev/tty"); err == nil {
		var fg int32
		_, _, errno := syscall.Syscall(syscall.SYS_IOCTL, tty.Fd(), syscall.TIOCGPGRP, uintptr(unsafe.Pointer(&fg)))
		tty.Close()
		if errno == 0 && int(fg) == syscall.Getpgrp() {
			return
		}
	}
	// It fails only for a session leader, which leads its group already.
	_ = syscall.Setpgid(0, 0)
}
