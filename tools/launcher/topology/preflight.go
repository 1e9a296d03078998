package topology

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/finflow/finflow/tools/launcher/runfile"
	"github.com/prometheus/procfs"
)

// Check looks at the machine before anything of the run starts: the daprd
// binary, no other topology with the same app ids, the run file's fixed
// ports free, and, where the sidecars resolve each other over mDNS, a
// network interface that can carry multicast. Its error says what is wrong
// and what to do, in one line. Start runs it too.
func Check(opts Options) error {
	if err := CheckDaprd(opts.Daprd); err != nil {
		return err
	}
	if err := distinctPorts(opts.RunFile.Apps); err != nil {
		return err
	}
	running := runningDaprds()
	mdns := false
	for _, a := range opts.RunFile.Apps {
		if pid, ok := running[a.AppID]; ok {
			return fmt.Errorf("a daprd for app id %q is already running (pid %d); stop that FinFlow first, two topologies on one machine would answer each other's calls", a.AppID, pid)
		}
		for _, u := range fixedPorts(a) {
			if portInUse(u.port) {
				return fmt.Errorf("port %d (app %s) is already in use; stop whatever listens there (ss -ltnp 'sport = :%d') or change the port", u.port, a.AppID, u.port)
			}
		}
		uses, err := usesMDNS(opts.configFile(a))
		if err != nil {
			return fmt.Errorf("app %s: %w", a.AppID, err)
		}
		mdns = mdns || uses
	}
	if mdns && len(multicastInterfaces()) == 0 {
		return errors.New(noMulticast())
	}
	return nil
}

// configFile is the Dapr Configuration the app's sidecar runs with: its own
// in AppConfigDir when there is one, otherwise the run file's.
func (o Options) configFile(a runfile.App) string {
	if o.AppConfigDir != "" {
		if cfg := filepath.Join(o.AppConfigDir, a.AppID+".yaml"); fileExists(cfg) {
			return cfg
		}
	}
	return a.ConfigFilePath
}

// DaprdVersion runs `daprd --version` and returns what it prints.
func DaprdVersion(path string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, path, "--version").Output()
	if err != nil {
		return "", fmt.Errorf("running %s --version: %w", path, err)
	}
	return strings.TrimSpace(string(out)), nil
}

// CheckDaprd makes sure path is a daprd of the 1.14 line.
func CheckDaprd(path string) error {
	if path == "" {
		return fmt.Errorf("no daprd found: run `make daprd` (it builds Dapr 1.14.0's daprd from the Go module proxy), or install the Dapr CLI and run `dapr init`")
	}
	v, err := DaprdVersion(path)
	if err != nil {
		return err
	}
	if !strings.HasPrefix(v, "1.14.") {
		return fmt.Errorf("%s is daprd %q; FinFlow needs 1.14.x (run `make daprd`)", path, v)
	}
	return nil
}

// FindDaprd returns the daprd to use: $DAPRD, then <root>/.bin/daprd (what
// `make daprd` provides), then ~/.dapr/bin/daprd, then daprd on PATH. It
// returns "" when there is none.
func FindDaprd(root string) string {
	cands := []string{os.Getenv("DAPRD"), filepath.Join(root, ".bin", "daprd")}
	if home, err := os.UserHomeDir(); err == nil {
		cands = append(cands, filepath.Join(home, ".dapr", "bin", "daprd"))
	}
	if p, err := exec.LookPath("daprd"); err == nil {
		cands = append(cands, p)
	}
	for _, c := range cands {
		if c == "" {
			continue
		}
		if st, err := os.Stat(c); err == nil && !st.IsDir() && st.Mode()&0o111 != 0 {
			return c
		}
	}
	return ""
}

// runningDaprds lists daprd processes on this machine (Linux /proc, read
// with procfs) by the app id on their command line, leaving out those in
// another network namespace (a Compose FinFlow's containers, a test's
// private topology): they can neither take this run's ports nor answer its
// mDNS lookups. Elsewhere it finds none.
func runningDaprds() map[string]int {
	found := map[string]int{}
	fs, err := procfs.NewDefaultFS()
	if err != nil {
		return found
	}
	procs, err := fs.AllProcs()
	if err != nil {
		return found
	}
	var own uint32
	if self, err := fs.Self(); err == nil {
		own = netNamespace(self)
	}
	for _, p := range procs {
		args, err := p.CmdLine()
		if err != nil || len(args) == 0 || filepath.Base(args[0]) != "daprd" {
			continue
		}
		if ns := netNamespace(p); own != 0 && ns != 0 && ns != own {
			continue
		}
		for i := 0; i+1 < len(args); i++ {
			if args[i] == "--app-id" {
				found[args[i+1]] = p.PID
			}
		}
	}
	return found
}

// netNamespace is the inode of p's network namespace, or 0 when it cannot
// be read.
func netNamespace(p procfs.Proc) uint32 {
	ns, err := p.Namespaces()
	if err != nil {
		return 0
	}
	return ns["net"].Inode
}

// portUse is one port a run file fixes, and what for.
type portUse struct {
	port int
	what string
}

// fixedPorts lists the ports the run file gives app a (those set, > 0):
// its app port and its sidecar's.
func fixedPorts(a runfile.App) []portUse {
	var uses []portUse
	for _, u := range []portUse{{a.AppPort, "app port"}, {a.DaprHTTPPort, "Dapr HTTP port"}, {a.DaprGRPCPort, "Dapr gRPC port"},
		{a.MetricsPort, "metrics port"}, {a.DaprInternalGRPCPort, "Dapr internal gRPC port"}} {
		if u.port > 0 {
			uses = append(uses, u)
		}
	}
	return uses
}

// distinctPorts refuses a run file that gives one port to two uses (two
// apps, or an app and a sidecar): the second process could not listen, and
// until it died its sidecar would reach the first one's app, which refuses
// it.
func distinctPorts(apps []runfile.App) error {
	owner := map[int]string{}
	for _, a := range apps {
		for _, u := range fixedPorts(a) {
			use := a.AppID + "'s " + u.what
			if first, dup := owner[u.port]; dup {
				return fmt.Errorf("port %d is both %s and %s in the run file; give each its own", u.port, first, use)
			}
			owner[u.port] = use
		}
	}
	return nil
}
