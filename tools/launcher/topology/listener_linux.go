package topology

import (
	"strconv"

	"github.com/prometheus/procfs"
)

// tcpListen is the state of a listening socket in /proc/net/tcp{,6}.
const tcpListen = 0x0A

// groupListensOn reports whether a process of process group pgid listens
// on TCP port in this network namespace, read (with procfs) from
// /proc/net/tcp{,6} and the group's open sockets. seen is false when no
// listener on port is visible here at all (none yet, or one in another
// network namespace).
func groupListensOn(pgid, port int) (owned, seen bool) {
	fs, err := procfs.NewDefaultFS()
	if err != nil {
		return false, false
	}
	sockets := map[string]bool{}
	for _, table := range []func() (procfs.NetTCP, error){fs.NetTCP, fs.NetTCP6} {
		lines, err := table()
		if err != nil {
			continue // no IPv6 here, say
		}
		for _, l := range lines {
			if l.St == tcpListen && l.LocalPort == uint64(port) {
				sockets["socket:["+strconv.FormatUint(l.Inode, 10)+"]"] = true
			}
		}
	}
	if len(sockets) == 0 {
		return false, false
	}
	procs, err := fs.AllProcs()
	if err != nil {
		return false, true
	}
	for _, p := range procs {
		if st, err := p.Stat(); err != nil || st.PGRP != pgid {
			continue // gone since, or another group
		}
		targets, _ := p.FileDescriptorTargets()
		for _, t := range targets {
			if sockets[t] {
				return true, true
			}
		}
	}
	return false, true
}
