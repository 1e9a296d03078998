package topology

import (
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
)

// handedOut is every port a pool of this process has handed out or
// reserved, so that two pools (the harness's and the launcher's, one run's
// and the next's) never give the same port twice.
var handedOut = struct {
	sync.Mutex
	ports map[int]bool
}{ports: map[int]bool{}}

// claim records port as handed out; false if it already was.
func claim(port int) bool {
	handedOut.Lock()
	defer handedOut.Unlock()
	if handedOut.ports[port] {
		return false
	}
	handedOut.ports[port] = true
	return true
}

// portPool hands out free TCP ports, never the same one twice in a run nor
// in this process.
type portPool struct {
	taken map[int]bool
}

func newPortPool() *portPool { return &portPool{taken: map[int]bool{}} }

// reserve marks a fixed port as used by this run.
func (pp *portPool) reserve(port int) {
	pp.taken[port] = true
	claim(port)
}

// Ports are picked below the kernel's ephemeral range
// (net.ipv4.ip_local_port_range, 32768-60999 by default on Linux): a port
// the kernel handed out for "port 0" is just as likely to become the source
// port of the next outgoing connection (a sidecar dialling Redis), which
// then takes it before the app listens on it. The defaults here apply where
// the range cannot be read.
const (
	lowestPort       = 10000
	defaultEphemeral = 32768
)

// ephemeralStart is the first port of the kernel's ephemeral range.
func ephemeralStart() int {
	raw, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range")
	if err != nil {
		return defaultEphemeral
	}
	f := strings.Fields(string(raw))
	if len(f) != 2 {
		return defaultEphemeral
	}
	lo, err := strconv.Atoi(f[0])
	if err != nil || lo <= 0 {
		return defaultEphemeral
	}
	return lo
}

// free returns a port that nothing listens on now, that this run and this
// process have not handed out yet, and that the kernel does not use for
// outgoing connections (below its ephemeral range, where there is room;
// otherwise one the kernel picks).
func (pp *portPool) free() (int, error) {
	hi := ephemeralStart()
	for i := 0; i < 200 && hi-lowestPort >= 1000; i++ {
		port := lowestPort + rand.IntN(hi-lowestPort)
		if pp.taken[port] || portInUse(port) || !claim(port) {
			continue
		}
		pp.taken[port] = true
		return port, nil
	}
	for i := 0; i < 50; i++ {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return 0, fmt.Errorf("finding a free port: %w", err)
		}
		port := ln.Addr().(*net.TCPAddr).Port
		ln.Close()
		if !pp.taken[port] && claim(port) {
			pp.taken[port] = true
			return port, nil
		}
	}
	return 0, fmt.Errorf("finding a free port: no new port after 250 tries")
}

// prefer returns port if this run has not handed it out and nothing
// listens on it, otherwise a free one.
func (pp *portPool) prefer(port int) (int, error) {
	if port > 0 && port < 65536 && !pp.taken[port] && !portInUse(port) && claim(port) {
		pp.taken[port] = true
		return port, nil
	}
	return pp.free()
}

// FreePort returns a TCP port nothing listens on right now, below the
// kernel's ephemeral range where there is room, and never one this process
// has handed out before (by FreePort or by a topology it started), so the
// ports a test picks for one run never collide with each other.
func FreePort() (int, error) { return newPortPool().free() }

// portInUse reports whether something already listens on port, on loopback
// or on any interface.
func portInUse(port int) bool {
	for _, host := range []string{"127.0.0.1", ""} {
		ln, err := net.Listen("tcp", net.JoinHostPort(host, strconv.Itoa(port)))
		if err != nil {
			return true
		}
		ln.Close()
	}
	return false
}
