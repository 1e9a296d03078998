package topology

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"regexp"
	"strings"

	"gopkg.in/yaml.v3"
)

// A topology that cannot start says why in one line: what is wrong and what
// to do about it. The causes below are the ones seen on real machines; each
// is recognised from what the processes printed or from the machine itself,
// never guessed from a timeout alone.

// noMulticast is the cause when Dapr's mDNS name resolution has no network
// interface to work on. Turning multicast on for the loopback interface was
// enough on this project's machines (the sidecars announce and look up each
// other on it; no multicast route is needed).
func noMulticast() string {
	ifs, _ := net.Interfaces()
	var without []string
	for _, i := range ifs {
		if i.Flags&net.FlagUp != 0 && i.Flags&net.FlagMulticast == 0 {
			without = append(without, i.Name)
		}
	}
	up := ""
	if len(without) > 0 {
		up = " (up without MULTICAST: " + strings.Join(without, ", ") + ")"
	}
	return "no network interface that is up can carry multicast" + up +
		", and Dapr's mDNS name resolution needs one for the services to find each other: " +
		"turn multicast on for the loopback interface (as root: ip link set lo multicast on) and start again"
}

// addrInUse finds the port in Go's "listen tcp 127.0.0.1:8090: bind:
// address already in use" (daprd, Fiber, the simulator all print it).
var addrInUse = regexp.MustCompile(`:(\d+): bind: address already in use`)

// causeInOutput recognises a known cause in the last lines a process
// printed, or returns "".
func causeInOutput(name string, lines []string) string {
	for i := len(lines) - 1; i >= 0; i-- {
		l := lines[i]
		switch {
		case addrInUse.MatchString(l):
			port := addrInUse.FindStringSubmatch(l)[1]
			return fmt.Sprintf("port %s is already in use (%s could not listen on it): stop whatever listens there (ss -ltnp 'sport = :%s') or change the port, and start again", port, name, port)
		case strings.Contains(l, "No supported interface"), strings.Contains(l, "name resolver not initialized"):
			return noMulticast()
		case strings.Contains(l, "could not determine host IP address"):
			return "daprd found no host IP address (no network interface but loopback): set DAPR_HOST_IP=127.0.0.1 in its environment"
		}
	}
	return ""
}

// causeInAnswers recognises a known cause in what a failed call between
// services answered (FinFlow's /health names each service's error).
func causeInAnswers(text string) string {
	switch {
	case strings.Contains(text, "name resolver not initialized"):
		return noMulticast()
	case strings.Contains(text, "couldn't find service"):
		if len(multicastInterfaces()) == 0 {
			return noMulticast()
		}
		return "the sidecars' mDNS lookups get no answer, so multicast on this machine is filtered (a firewall rule, a VPN): allow UDP to 224.0.0.251 port 5353 on the loopback interface, or run where multicast works, and start again"
	}
	return ""
}

// diagnose looks for a known cause: the Redis the components use not
// answering, then what the processes printed, then what a failed call
// answered. It returns "" when none is recognised.
func (t *Topology) diagnose(ctx context.Context, answers string) string {
	if t.opts.RedisAddr != "" {
		if err := PingRedis(ctx, t.opts.RedisAddr); err != nil && ctx.Err() == nil {
			return fmt.Sprintf("the Redis at %s does not answer (%v): start it again (make run starts one when none answers)", t.opts.RedisAddr, err)
		}
	}
	for _, p := range t.procs() {
		if c := causeInOutput(p.name, p.tail(recentLines)); c != "" {
			return c
		}
	}
	return causeInAnswers(answers)
}

// procs returns every process of the run.
func (t *Topology) procs() []*proc {
	var ps []*proc
	ps = append(ps, t.extras...)
	if t.sentry != nil && t.sentry.proc != nil {
		ps = append(ps, t.sentry.proc)
	}
	for _, a := range t.apps {
		ps = append(ps, a.daprd, a.app)
	}
	return ps
}

// exitError says in one line why a process ended while the run was
// starting: a recognised cause, or else the last line it printed. The
// console has its last lines already (or gets them here).
func (t *Topology) exitError(ctx context.Context, p *proc) error {
	lines := p.tail(15)
	if !p.toCons {
		for _, l := range lines {
			t.console.line(p.name, l)
		}
	}
	why := causeInOutput(p.name, lines)
	if why == "" {
		why = t.diagnose(ctx, "")
	}
	if why == "" {
		why = "it printed: " + lastLine(lines)
	}
	where := ""
	if p.toFile {
		where = " (log: " + p.logPath + ")"
	}
	return fmt.Errorf("%s exited while starting: %s%s", p.name, why, where)
}

// lastLine is the last non-empty line, shortened to fit in an error.
func lastLine(lines []string) string {
	for i := len(lines) - 1; i >= 0; i-- {
		if l := strings.TrimSpace(lines[i]); l != "" {
			return oneLine(l, 300)
		}
	}
	return "nothing"
}

// multicastInterfaces lists the interfaces that are up and can carry
// multicast: the ones Dapr's mDNS resolver (zeroconf) joins. With none, it
// fails with "No supported interface".
func multicastInterfaces() []string {
	ifs, err := net.Interfaces()
	if err != nil {
		return nil
	}
	return usableForMulticast(ifs)
}

func usableForMulticast(ifs []net.Interface) []string {
	var names []string
	for _, i := range ifs {
		if i.Flags&net.FlagUp != 0 && i.Flags&net.FlagMulticast != 0 {
			names = append(names, i.Name)
		}
	}
	return names
}

// usesMDNS reports whether a sidecar with this Dapr Configuration file
// resolves app ids over mDNS: the self-hosted default, unless
// spec.nameResolution names another component.
func usesMDNS(configFile string) (bool, error) {
	if configFile == "" {
		return true, nil
	}
	raw, err := os.ReadFile(configFile)
	if err != nil {
		return false, fmt.Errorf("reading Dapr configuration: %w", err)
	}
	var cfg struct {
		Spec struct {
			NameResolution struct {
				Component string `yaml:"component"`
			} `yaml:"nameResolution"`
		} `yaml:"spec"`
	}
	if err := yaml.NewDecoder(bytes.NewReader(raw)).Decode(&cfg); err != nil {
		return false, fmt.Errorf("parsing Dapr configuration %s: %w", configFile, err)
	}
	c := cfg.Spec.NameResolution.Component
	return c == "" || c == "mdns", nil
}
