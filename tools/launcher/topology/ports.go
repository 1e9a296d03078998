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

// handedOut is every port this process has handed out (freePort,
// preferPort, FreePort) or reserved for a run's fixed ports, so that no
// two uses in one process, in one run or across runs (the harness's picks
// and the launcher's), ever get the same port.
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

// reservePort marks a run file's fixed port as used, so it is never handed
// out.
func reservePort(port int) { claim(port) }

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

// ephemeralStart is the first port of the kernel's ephemeral range, read
// once.
var ephemeralStart = sync.OnceValue(func() int {
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
})

// FreePort returns a TCP port that nothing listens on now, that this
// process has not handed out yet (to a test or to a topology it started),
// and that the kernel does not use for outgoing connections (below its
// ephemeral range, where there is room; otherwise one the kernel picks).
// The ports a test picks for one run never collide with each other.
func FreePort() (int, error) {
	hi := ephemeralStart()
	for i := 0; i < 200 && hi-lowestPort >= 1000; i++ {
		port := lowestPort + rand.IntN(hi-lowestPort)
		if portInUse(port) || !claim(port) {
			continue
		}
		return port, nil
	}
	for i := 0; i < 50; i++ {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return 0, fmt.Errorf("finding a free port: %w", err)
		}
		port := ln.Addr().(*net.TCPAddr).Port
		ln.Close()
		if claim(port) {
			return port, nil
		}
	}
	return 0, fmt.Errorf("finding a free port: no new port after 250 tries")
}

// preferPort returns port if this process has not handed it out and
// nothing listens on it, otherwise a free one.
func preferPort(port int) (int, error) {
	if port > 0 && port < 65536 && !portInUse(port) && claim(port) {
		return port, nil
	}
	return FreePort()
}

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
