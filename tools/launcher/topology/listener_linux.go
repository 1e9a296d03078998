package topology

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// groupListensOn reports whether a process of process group pgid listens
// on TCP port in this network namespace, read from /proc/net/tcp{,6} and
// the group's open sockets. seen is false when no listener on port is
// visible here at all (none yet, or one in another network namespace).
func groupListensOn(pgid, port int) (owned, seen bool) {
	inodes := map[string]bool{}
	for _, table := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
		raw, err := os.ReadFile(table)
		if err != nil {
			continue
		}
		for _, line := range strings.Split(string(raw), "\n")[1:] {
			f := strings.Fields(line)
			// sl local_address rem_address st tx:rx tr:when retrnsmt uid timeout inode
			if len(f) < 10 || f[3] != "0A" { // 0A: LISTEN
				continue
			}
			i := strings.LastIndexByte(f[1], ':')
			if p, err := strconv.ParseUint(f[1][i+1:], 16, 16); err == nil && int(p) == port {
				inodes["socket:["+f[9]+"]"] = true
			}
		}
	}
	if len(inodes) == 0 {
		return false, false
	}
	stats, _ := filepath.Glob("/proc/[0-9]*/stat")
	for _, stat := range stats {
		pid := filepath.Base(filepath.Dir(stat))
		if processGroup(pid) != pgid {
			continue
		}
		fds, _ := filepath.Glob("/proc/" + pid + "/fd/*")
		for _, fd := range fds {
			if target, err := os.Readlink(fd); err == nil && inodes[target] {
				return true, true
			}
		}
	}
	return false, true
}

// processGroup reads the process group of pid from /proc/<pid>/stat, or 0.
func processGroup(pid string) int {
	raw, err := os.ReadFile("/proc/" + pid + "/stat")
	if err != nil {
		return 0
	}
	// pid (comm) state ppid pgrp ...; comm may hold spaces and parentheses.
	s := string(raw)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	if len(f) < 3 {
		return 0
	}
	pgid, _ := strconv.Atoi(f[2])
	return pgid
}
