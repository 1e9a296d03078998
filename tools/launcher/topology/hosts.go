package topology

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"time"
)

// Host is a machine a run places app instances on (Options.Hosts): the
// launcher's own network, or a network namespace of its own that stands
// in for a second machine. Sidecars on a host advertise its IP over mDNS
// and serve calls from other sidecars on it, so a call between two hosts
// crosses the link between them as it would cross a network.
type Host struct {
	// Name names the host in messages ("a", "b").
	Name string
	// IP is the host's address on the link between the hosts.
	IP string
	// NetNS is the network namespace file its processes enter
	// (/proc/<pid>/ns/net); "" for the launcher's own network.
	NetNS string
}

// Local reports whether the host is the launcher's own network, whose
// processes it reaches on loopback.
func (h *Host) Local() bool { return h == nil || h.NetNS == "" }

// reach is the address the launcher (and a test beside it) uses to reach a
// process on the host.
func (h *Host) reach() string {
	if h.Local() {
		return "127.0.0.1"
	}
	return h.IP
}

// wrap prefixes argv so that the process runs in the host's network
// namespace. nsenter execs the command, so the process keeps its pid and
// process group and can be signalled as before.
func (h *Host) wrap(argv []string) []string {
	if h.Local() {
		return argv
	}
	return append([]string{"nsenter", "--net=" + h.NetNS, "--"}, argv...)
}

// Command returns a command that runs argv on the host (in its network
// namespace), for setup and checks beside the run (iptables counters).
func (h *Host) Command(ctx context.Context, argv ...string) *exec.Cmd {
	full := h.wrap(argv)
	return exec.CommandContext(ctx, full[0], full[1:]...)
}

// Network is two hosts joined by a veth pair: host "a" is the launcher's
// own network namespace, host "b" a new one held open by a sleeping
// process. Multicast crosses the pair, so Dapr's mDNS name resolution
// finds sidecars on both hosts. It needs root (CAP_NET_ADMIN), the ip and
// nsenter commands, and should be made in a private network namespace of
// the caller's (tests re-run themselves under `unshare --net`), since
// host "a" gets the pair's first end.
type Network struct {
	// Hosts are a and b.
	Hosts  []Host
	holder *exec.Cmd
	link   string
}

// Default addresses of the two hosts on their link.
const (
	HostAIP = "10.99.0.1"
	HostBIP = "10.99.0.2"
)

// NewNetwork makes host b and the veth pair (ff-a in this namespace,
// 10.99.0.1/24; ff-b in b's, 10.99.0.2/24), brings loopback up with
// multicast on both hosts, and routes multicast over the pair on b.
// Close removes it.
func NewNetwork(ctx context.Context) (*Network, error) {
	if os.Geteuid() != 0 {
		return nil, errors.New("two hosts need network namespaces and a veth pair, which only root can make: run as root (CI and the test machines do)")
	}
	for _, tool := range []string{"ip", "nsenter", "unshare"} {
		if _, err := exec.LookPath(tool); err != nil {
			return nil, fmt.Errorf("two hosts need the %s command (apt-get install iproute2 util-linux)", tool)
		}
	}
	holder := exec.Command("unshare", "--net", "--", "sleep", "2147483647")
	holder.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := holder.Start(); err != nil {
		return nil, fmt.Errorf("making host b's network namespace: %w", err)
	}
	n := &Network{holder: holder, link: "ff-a"}
	nsPath := fmt.Sprintf("/proc/%d/ns/net", holder.Process.Pid)
	// unshare has made the namespace once its exec'd sleep runs in another
	// namespace than ours.
	own, _ := os.Readlink("/proc/self/ns/net")
	deadline := time.Now().Add(10 * time.Second)
	for {
		ns, err := os.Readlink(nsPath)
		if err == nil && ns != own {
			break
		}
		if time.Now().After(deadline) {
			n.Close()
			return nil, errors.New("host b's network namespace did not appear within 10 s")
		}
		time.Sleep(20 * time.Millisecond)
	}
	a := Host{Name: "a", IP: HostAIP}
	b := Host{Name: "b", IP: HostBIP, NetNS: nsPath}
	steps := []struct {
		on   *Host
		argv []string
	}{
		{&a, []string{"ip", "link", "set", "lo", "up"}},
		{&a, []string{"ip", "link", "set", "lo", "multicast", "on"}},
		{&a, []string{"ip", "link", "add", "ff-a", "type", "veth", "peer", "name", "ff-b", "netns", fmt.Sprint(holder.Process.Pid)}},
		{&a, []string{"ip", "addr", "add", HostAIP + "/24", "dev", "ff-a"}},
		{&a, []string{"ip", "link", "set", "ff-a", "up"}},
		{&b, []string{"ip", "link", "set", "lo", "up"}},
		{&b, []string{"ip", "link", "set", "lo", "multicast", "on"}},
		{&b, []string{"ip", "addr", "add", HostBIP + "/24", "dev", "ff-b"}},
		{&b, []string{"ip", "link", "set", "ff-b", "up"}},
		{&b, []string{"ip", "route", "add", "224.0.0.0/4", "dev", "ff-b"}},
	}
	for _, s := range steps {
		if out, err := s.on.Command(ctx, s.argv...).CombinedOutput(); err != nil {
			n.Close()
			return nil, fmt.Errorf("making two hosts: on %s, %s: %v: %s", s.on.Name, strings.Join(s.argv, " "), err, bytes.TrimSpace(out))
		}
	}
	n.Hosts = []Host{a, b}
	return n, nil
}

// Close removes the pair and host b (ending its holder ends the namespace
// and the pair's end in it, and so the pair).
func (n *Network) Close() {
	if n == nil {
		return
	}
	_ = exec.Command("ip", "link", "del", n.link).Run()
	if n.holder != nil && n.holder.Process != nil {
		_ = n.holder.Process.Kill()
		_ = n.holder.Wait()
	}
}
