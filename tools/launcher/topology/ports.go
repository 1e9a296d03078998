package topology

import (
	"fmt"
	"net"
	"strconv"
)

// portPool hands out free TCP ports, never the same one twice in a run.
type portPool struct {
	taken map[int]bool
}

func newPortPool() *portPool { return &portPool{taken: map[int]bool{}} }

// reserve marks a fixed port as used by this run.
func (pp *portPool) reserve(port int) { pp.taken[port] = true }

// free returns a port that nothing listens on now and that this run has not
// handed out yet.
func (pp *portPool) free() (int, error) {
	for i := 0; i < 50; i++ {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return 0, fmt.Errorf("finding a free port: %w", err)
		}
		port := ln.Addr().(*net.TCPAddr).Port
		ln.Close()
		if !pp.taken[port] {
			pp.taken[port] = true
			return port, nil
		}
	}
	return 0, fmt.Errorf("finding a free port: no new port after 50 tries")
}

// prefer returns port if this run has not handed it out and nothing
// listens on it, otherwise a free one.
func (pp *portPool) prefer(port int) (int, error) {
	if port > 0 && port < 65536 && !pp.taken[port] && !portInUse(port) {
		pp.taken[port] = true
		return port, nil
	}
	return pp.free()
}

// FreePort returns a TCP port nothing listens on right now.
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
