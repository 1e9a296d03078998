// Package sidecarcrash checks the shape of FinFlow's resiliency policy for
// app targets against a Dapr 1.14 crash (dapr/dapr#10371): with a timeout
// on an app target, daprd runs a service invocation on a goroutine that
// copies the answer to the caller, and when the caller gives up (or the
// timeout fires) while the answer is still being copied, the handler
// returns under the goroutine, which then writes to a recycled
// http.ResponseWriter: nil pointer, the whole sidecar exits. It crashed the
// gateway's sidecar once in the chaos suite.
//
// One real daprd, one app of the test's own that answers slowly in chunks,
// and calls through the sidecar that the test cancels while the answer
// streams. No Redis or other services are needed.
package sidecarcrash

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/finflow/finflow/tests/harness"
	"github.com/finflow/finflow/tools/launcher/topology"
)

const appID = "streamer"

// shippedAppTarget returns the policy components/resiliency.yaml gives
// the wallet (every app has the same), for the test app to use.
func shippedAppTarget(t *testing.T, root string) map[string]any {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(root, "components", "resiliency.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Spec struct {
			Targets struct {
				Apps map[string]map[string]any `yaml:"apps"`
			} `yaml:"targets"`
		} `yaml:"spec"`
	}
	if err := yaml.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	p, ok := doc.Spec.Targets.Apps["wallet"]
	if !ok {
		t.Fatal("components/resiliency.yaml has no target for wallet")
	}
	if p == nil {
		p = map[string]any{}
	}
	return p
}

// streamer serves GET /stream: 64 chunks of 4 KiB, one every millisecond.
func streamer(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	chunk := []byte(strings.Repeat("x", 4096))
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/octet-stream")
		for range 64 {
			if _, err := w.Write(chunk); err != nil {
				return
			}
			w.(http.Flusher).Flush()
			time.Sleep(time.Millisecond)
		}
	})}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { srv.Close() })
	return ln.Addr().(*net.TCPAddr).Port
}

// startDaprd runs daprd for the streamer with policy as its app target and
// returns its HTTP port and the process.
func startDaprd(t *testing.T, root string, appPort int, policy map[string]any) (int, *exec.Cmd, *os.File) {
	t.Helper()
	daprd := topology.FindDaprd(root)
	if err := topology.CheckDaprd(daprd); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	res := map[string]any{
		"apiVersion": "dapr.io/v1alpha1", "kind": "Resiliency",
		"metadata": map[string]any{"name": "crash-check"},
		"spec": map[string]any{
			"policies": map[string]any{"timeouts": map[string]any{"invoke": "10s"}},
			"targets":  map[string]any{"apps": map[string]any{appID: policy}},
		},
	}
	raw, err := yaml.Marshal(res)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "resiliency.yaml"), raw, 0o644); err != nil {
		t.Fatal(err)
	}
	ports := make([]int, 4)
	for i := range ports {
		if ports[i], err = topology.FreePort(); err != nil {
			t.Fatal(err)
		}
	}
	logf, err := os.Create(filepath.Join(dir, "daprd.log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(daprd, "--app-id", appID, "--app-port", strconv.Itoa(appPort),
		"--dapr-http-port", strconv.Itoa(ports[0]), "--dapr-grpc-port", strconv.Itoa(ports[1]),
		"--dapr-internal-grpc-port", strconv.Itoa(ports[2]), "--metrics-port", strconv.Itoa(ports[3]),
		"--dapr-listen-addresses", "127.0.0.1", "--resources-path", dir, "--log-level", "warn")
	cmd.Stdout, cmd.Stderr = logf, logf
	// daprd needs a host IP; loopback serves, and works where there is no
	// other interface (a network namespace of the tests' own).
	cmd.Env = append(os.Environ(), "DAPR_HOST_IP=127.0.0.1")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	harness.WaitFor(t, 30*time.Second, "daprd to be healthy (log in "+logf.Name()+")", func() bool {
		resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/v1.0/healthz", ports[0]))
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusNoContent
	})
	return ports[0], cmd, logf
}

// cancelledCalls invokes /stream through the sidecar n times, each call
// given up after 5 to 60 ms (while the answer streams), and reports whether
// daprd is still running afterwards.
func cancelledCalls(t *testing.T, httpPort int, cmd *exec.Cmd, n int) (alive bool, calls int) {
	t.Helper()
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	client := &http.Client{}
	url := fmt.Sprintf("http://127.0.0.1:%d/v1.0/invoke/%s/method/stream", httpPort, appID)
	for calls = 0; calls < n; calls++ {
		select {
		case <-exited:
			return false, calls
		default:
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Duration(5+rand.IntN(56))*time.Millisecond)
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if resp, err := client.Do(req); err == nil {
			buf := make([]byte, 32<<10)
			for {
				if _, err := resp.Body.Read(buf); err != nil {
					break
				}
			}
			resp.Body.Close()
		}
		cancel()
	}
	select {
	case <-exited:
		return false, calls
	case <-time.After(500 * time.Millisecond):
		return true, calls
	}
}

func repoRoot(t *testing.T) string {
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	return root
}

// With the app-target policy FinFlow ships, callers that give up mid-answer
// do not crash the sidecar.
func TestShippedPolicySurvivesCallersGivingUp(t *testing.T) {
	root := repoRoot(t)
	policy := shippedAppTarget(t, root)
	port, cmd, logf := startDaprd(t, root, streamer(t), policy)
	alive, calls := cancelledCalls(t, port, cmd, 300)
	if !alive {
		log, _ := os.ReadFile(logf.Name())
		t.Fatalf("daprd exited after %d cancelled calls with the shipped app-target policy %v:\n%s", calls, policy, harness.LastLines(string(log), 30))
	}
	t.Logf("daprd alive after %d calls given up mid-answer (app target %v)", calls, policy)
}

// The crash itself, with a timeout on the app target (what FinFlow used to
// ship). It shows the reason for the shipped policy and fails once a Dapr
// upgrade fixes the bug. Not part of `make test` (it depends on a race);
// run with FINFLOW_REPRO_DAPR_10371=1.
func TestTimeoutPolicyCrashesDaprd(t *testing.T) {
	if os.Getenv("FINFLOW_REPRO_DAPR_10371") == "" {
		t.Skip("set FINFLOW_REPRO_DAPR_10371=1 to reproduce dapr/dapr#10371")
	}
	root := repoRoot(t)
	port, cmd, logf := startDaprd(t, root, streamer(t), map[string]any{"timeout": "invoke"})
	alive, calls := cancelledCalls(t, port, cmd, 300)
	if alive {
		t.Fatalf("daprd survived %d cancelled calls with a timeout on the app target: dapr/dapr#10371 may be fixed in this daprd", calls)
	}
	log, _ := os.ReadFile(logf.Name())
	if !strings.Contains(string(log), "nil pointer dereference") {
		t.Fatalf("daprd exited after %d calls, but not with the known panic:\n%s", calls, harness.LastLines(string(log), 30))
	}
	t.Logf("daprd crashed after %d cancelled calls (nil pointer dereference), as dapr/dapr#10371 describes", calls)
}
