package topology

import (
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// The lines are what daprd 1.14, Fiber and the simulator printed on this
// project's machines.
func TestCauseInOutput(t *testing.T) {
	cases := []struct {
		name  string
		lines []string
		want  []string // every one must be in the cause; none means no cause
	}{
		{"daprd's port taken",
			[]string{`time="..." level=fatal msg="Fatal error from runtime: failed to start internal gRPC server: listen tcp 127.0.0.1:41055: bind: address already in use" app_id=user`},
			[]string{"port 41055 is already in use", "user-daprd could not listen", "ss -ltnp 'sport = :41055'"}},
		{"the simulator's port taken, then go run's exit",
			[]string{"2026/11/30 23:54:03 rzpsim: listen tcp 127.0.0.1:8090: bind: address already in use", "exit status 1"},
			[]string{"port 8090 is already in use"}},
		{"mDNS without a multicast interface",
			[]string{"[zeroconf] no suitable IPv4 interface: udp4: failed to join any of these interfaces: []",
				`level=error msg="[INIT_COMPONENT_FAILURE]: initialization error occurred for nr (mdns/v1): No supported interface"`},
			[]string{"can carry multicast", "mDNS", "ip link set lo multicast on"}},
		{"no host IP",
			[]string{`level=fatal msg="Fatal error from runtime: failed to determine host address: could not determine host IP address"`},
			[]string{"DAPR_HOST_IP=127.0.0.1"}},
		{"nothing known",
			[]string{`level=info msg="dapr initialized. Status: Running."`, "exit status 2"},
			nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := causeInOutput("user-daprd", c.lines)
			if c.want == nil {
				if got != "" {
					t.Fatalf("causeInOutput = %q, want none", got)
				}
				return
			}
			for _, w := range c.want {
				if !strings.Contains(got, w) {
					t.Fatalf("causeInOutput = %q, want it to mention %q", got, w)
				}
			}
			if strings.Contains(got, "\n") {
				t.Fatalf("causeInOutput = %q, want one line", got)
			}
		})
	}
}

func TestSummarize(t *testing.T) {
	cases := []struct {
		name, body, want string
	}{
		{"FinFlow's /health",
			`{"status":"unavailable","services":{"wallet":"unavailable: invoking wallet: sidecar answered 500 ERR_DIRECT_INVOKE: failed to invoke, id: wallet, err: couldn't find service: wallet","gateway":"ok","billing":"unavailable: invoking billing: sidecar answered 500 ERR_DIRECT_INVOKE: failed to invoke, id: billing, err: couldn't find service: billing"}}`,
			"billing, wallet not answering, e.g. couldn't find service: billing"},
		{"FinFlow's /health, reasons kept for the log",
			`{"status":"unavailable","services":{"wallet":"unavailable","gateway":"ok","billing":"unavailable"}}`,
			"billing, wallet not answering"},
		{"anything else",
			"upstream\nbroken", "upstream broken"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := summarize([]byte(c.body)); got != c.want {
				t.Fatalf("summarize = %q, want %q", got, c.want)
			}
		})
	}
}

func TestUsableForMulticast(t *testing.T) {
	cases := []struct {
		name string
		ifs  []net.Interface
		want []string
	}{
		{"a fresh network namespace: lo up without multicast",
			[]net.Interface{{Name: "lo", Flags: net.FlagUp | net.FlagLoopback}}, nil},
		{"lo with multicast turned on",
			[]net.Interface{{Name: "lo", Flags: net.FlagUp | net.FlagLoopback | net.FlagMulticast}}, []string{"lo"}},
		{"a multicast interface that is down",
			[]net.Interface{{Name: "lo", Flags: net.FlagUp | net.FlagLoopback}, {Name: "eth0", Flags: net.FlagMulticast}}, nil},
		{"a machine on a network",
			[]net.Interface{{Name: "lo", Flags: net.FlagUp | net.FlagLoopback}, {Name: "eth0", Flags: net.FlagUp | net.FlagMulticast}}, []string{"eth0"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := usableForMulticast(c.ifs); !slices.Equal(got, c.want) {
				t.Fatalf("usableForMulticast = %v, want %v", got, c.want)
			}
		})
	}
}

func TestUsesMDNS(t *testing.T) {
	dir := t.TempDir()
	cases := []struct {
		name, config string
		want         bool
	}{
		{"no name resolution: the self-hosted default", "apiVersion: dapr.io/v1alpha1\nkind: Configuration\nspec:\n  tracing:\n    samplingRate: \"0\"\n", true},
		{"mdns named", "kind: Configuration\nspec:\n  nameResolution:\n    component: mdns\n", true},
		{"sqlite", "kind: Configuration\nspec:\n  nameResolution:\n    component: sqlite\n    configuration:\n      connectionString: /tmp/nr.db\n", false},
	}
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := filepath.Join(dir, string(rune('a'+i))+".yaml")
			if err := os.WriteFile(p, []byte(c.config), 0o644); err != nil {
				t.Fatal(err)
			}
			got, err := usesMDNS(p)
			if err != nil || got != c.want {
				t.Fatalf("usesMDNS = %v, %v; want %v", got, err, c.want)
			}
		})
	}
	// FinFlow's own configurations resolve over mDNS.
	for _, p := range []string{"../../../config/dapr-config.yaml", "../../../config/secure/gateway.yaml"} {
		if got, err := usesMDNS(p); err != nil || !got {
			t.Errorf("usesMDNS(%s) = %v, %v; want true", p, got, err)
		}
	}
}
