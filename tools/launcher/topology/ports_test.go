package topology

import (
	"math/rand/v2"
	"net"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/finflow/finflow/tools/launcher/runfile"
)

// Ports handed out in one process never repeat, whether asked for as any
// free port or as a preferred one already handed out, and lie below the
// kernel's ephemeral range, where no outgoing connection can take them
// between the pick and the listen. (CI once gave two apps of one test
// topology the same port: payment's sidecar then delivered payment's calls
// to wallet, which refused them all.)
func TestPortsNeverRepeatAndAvoidTheEphemeralRange(t *testing.T) {
	seen := map[int]bool{}
	limit := ephemeralStart()
	last := 0
	for i := 0; i < 600; i++ {
		var p int
		var err error
		if i%2 == 0 {
			p, err = FreePort()
		} else {
			p, err = preferPort(last) // handed out already: another one
		}
		if err != nil {
			t.Fatal(err)
		}
		if seen[p] {
			t.Fatalf("port %d handed out twice (after %d ports)", p, i)
		}
		seen[p], last = true, p
		if limit-lowestPort >= 1000 && (p < lowestPort || p >= limit) {
			t.Fatalf("port %d is outside [%d, %d)", p, lowestPort, limit)
		}
	}
	// A port a run file fixes is never handed out afterwards either.
	// (one below the range FreePort picks from, that nothing listens on,
	// so only the reservation can keep preferPort from it)
	fixed := lowestPort - 1 - rand.IntN(1000)
	for portInUse(fixed) {
		fixed = lowestPort - 1 - rand.IntN(1000)
	}
	reservePort(fixed)
	if p, _ := preferPort(fixed); p == fixed {
		t.Fatalf("preferPort handed out the reserved port %d", fixed)
	}
}

// Two uses of one port in a run file are refused before anything starts,
// naming both.
func TestRunFilePortsMustBeDistinct(t *testing.T) {
	app := func(id string, appPort, http int) runfile.App {
		a := runfile.App{AppID: id}
		a.AppPort, a.DaprHTTPPort = appPort, http
		return a
	}
	for _, tc := range []struct {
		name string
		apps []runfile.App
		want string // "" for no error
	}{
		{"all distinct", []runfile.App{app("wallet", 20001, 20002), app("payment", 20003, 20004)}, ""},
		{"unset ports are not compared", []runfile.App{app("wallet", 0, 0), app("payment", 0, 0)}, ""},
		{"two apps, one app port", []runfile.App{app("wallet", 20001, 20002), app("payment", 20001, 20004)},
			"port 20001 is both wallet's app port and payment's app port"},
		{"an app port that is another's sidecar port", []runfile.App{app("wallet", 20001, 20002), app("payment", 20003, 20001)},
			"port 20001 is both wallet's app port and payment's Dapr HTTP port"},
		{"one app, one port twice", []runfile.App{app("wallet", 20001, 20001)},
			"port 20001 is both wallet's app port and wallet's Dapr HTTP port"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := distinctPorts(tc.apps)
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("refused: %v", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Fatalf("error %v, want one containing %q", err, tc.want)
			}
		})
	}
}

// The launcher tells its app's listener from anyone else's on the same
// port: a port answering health checks is not enough.
func TestGroupListensOn(t *testing.T) {
	port, err := FreePort()
	if err != nil {
		t.Fatal(err)
	}
	if owned, seen := groupListensOn(syscall.Getpgrp(), port); owned || seen {
		t.Fatalf("nothing listens on %d yet, got owned=%v seen=%v", port, owned, seen)
	}
	ln, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	if owned, seen := groupListensOn(syscall.Getpgrp(), port); !owned || !seen {
		t.Fatalf("this test's group listens on %d, got owned=%v seen=%v", port, owned, seen)
	}
	if owned, seen := groupListensOn(syscall.Getpgrp()+1_000_000, port); owned || !seen {
		t.Fatalf("another group's view of %d: got owned=%v seen=%v, want false, true", port, owned, seen)
	}
}
