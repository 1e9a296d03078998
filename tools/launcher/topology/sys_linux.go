package topology

import "syscall"

// sysProcAttr puts each child in its own process group and, on Linux, kills
// it if the launcher itself dies without stopping it.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}
