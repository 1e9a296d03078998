package compose

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/finflow/finflow/tests/harness"
)

const (
	// projectName keeps the test's containers, network and volume apart
	// from a `docker compose up` of the user's own (project "finflow").
	projectName = "finflow-compose-test"
	// helperImage runs the requests made from inside a container's network
	// namespace (bash's /dev/tcp; tools/compose/standins.sh provides it).
	helperImage = "finflow-standin/debian:bookworm"
	// upTimeout bounds `up --build --wait`: building eight images on two
	// busy cores, the first time without a module cache.
	upTimeout = 20 * time.Minute
)

// project is the Compose project under test.
type project struct {
	root string
	cmd  []string // "docker compose", or a standalone docker-compose
	env  []string
}

// newProject returns the project for the repository's docker-compose.yml,
// run with FINFLOW_COMPOSE_CMD, with the gateway and the simulator
// published on free loopback ports (other FinFlows on this machine use
// 8080 and 8090).
func newProject(tb testing.TB) *project {
	tb.Helper()
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		tb.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "docker-compose.yml")); err != nil {
		tb.Fatalf("docker-compose.yml not found from the test's folder: %v", err)
	}
	cmd := strings.Fields(os.Getenv("FINFLOW_COMPOSE_CMD"))
	if len(cmd) == 0 {
		cmd = []string{"docker", "compose"}
	}
	if _, err := exec.LookPath(cmd[0]); err != nil {
		tb.Fatalf("Compose (%s) is missing: run `make compose-test`, which provides it: %v", cmd[0], err)
	}
	if out, err := exec.Command("docker", "info", "--format", "{{.ServerVersion}}").CombinedOutput(); err != nil {
		tb.Fatalf("no Docker engine answers (`make compose-test` starts one): %v\n%s", err, out)
	}
	return &project{root: root, cmd: cmd, env: append(os.Environ(),
		"FINFLOW_GATEWAY_PORT=127.0.0.1:0", "FINFLOW_SIMULATOR_PORT=127.0.0.1:0")}
}

// run runs one Compose command on the project and returns its output.
func (p *project) run(timeout time.Duration, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	argv := append(append(p.cmd[1:len(p.cmd):len(p.cmd)], "-p", projectName, "-f", filepath.Join(p.root, "docker-compose.yml")), args...)
	c := exec.CommandContext(ctx, p.cmd[0], argv...)
	c.Dir, c.Env = p.root, p.env
	var out bytes.Buffer
	c.Stdout, c.Stderr = &out, &out
	err := c.Run()
	if ctx.Err() != nil {
		err = fmt.Errorf("%s after %s: %w", strings.Join(args, " "), timeout, ctx.Err())
	} else if err != nil {
		err = fmt.Errorf("compose %s: %w", strings.Join(args, " "), err)
	}
	return out.String(), err
}

// must runs a Compose command and fails the test if it fails.
func (p *project) must(tb testing.TB, timeout time.Duration, args ...string) string {
	tb.Helper()
	out, err := p.run(timeout, args...)
	if err != nil {
		tb.Fatalf("%v\n%s", err, harness.LastLines(out, 60))
	}
	return out
}

// up builds the images and starts every service, waiting for the health
// checks, after removing what an interrupted run left. Unless
// FINFLOW_COMPOSE_KEEP=1, the project is removed with its volume when the
// test ends, after its state and logs are shown if the test failed.
func (p *project) up(tb testing.TB) {
	tb.Helper()
	if out, err := p.run(5*time.Minute, "down", "-v", "--remove-orphans"); err != nil {
		tb.Fatalf("removing an earlier run: %v\n%s", err, out)
	}
	tb.Cleanup(func() {
		if tb.Failed() {
			ps, _ := p.run(time.Minute, "ps", "-a")
			logs, _ := p.run(2*time.Minute, "logs", "--no-color", "--tail", "40")
			tb.Logf("compose ps -a:\n%s\nlast log lines of every service:\n%s", ps, logs)
		}
		if os.Getenv("FINFLOW_COMPOSE_KEEP") == "1" {
			tb.Logf("FINFLOW_COMPOSE_KEEP=1: project %s left running", projectName)
			return
		}
		if out, err := p.run(5*time.Minute, "down", "-v", "--remove-orphans"); err != nil {
			tb.Errorf("down -v: %v\n%s", err, out)
		}
	})
	start := time.Now()
	p.must(tb, upTimeout, "up", "--build", "--no-start", "--quiet-pull")
	p.isolateMDNS(tb)
	p.must(tb, upTimeout, "up", "--wait", "--wait-timeout", "600")
	tb.Logf("up --build --wait took %s", time.Since(start).Round(time.Second))
	p.appsHealthy(tb)
}

// appsHealthy checks that `up --wait` returned with every app's health
// check passing (its GET /readyz through `/app -healthcheck`: its sidecar
// up and its state store answering), not merely started.
func (p *project) appsHealthy(tb testing.TB) {
	tb.Helper()
	for _, app := range []string{"gateway", "user", "wallet", "billing", "payment", "razorpay"} {
		status := strings.TrimSpace(dockerMust(tb, "inspect", "--format", "{{if .State.Health}}{{.State.Health.Status}}{{else}}no health check{{end}}", p.container(tb, app)))
		if status != "healthy" {
			tb.Errorf("after up --wait, %s's container is %q, want healthy", app, status)
		}
	}
}

// isolateMDNS keeps the project's sidecars and the host's apart. They find
// each other by mDNS, whose multicast also reaches the host through the
// project network's bridge: a FinFlow on the host (make run, make test of
// another checkout) would resolve app ids to these containers, and these
// to it. With multicast off on the bridge's host side, the host neither
// sends nor listens there, while the containers behind it still do.
func (p *project) isolateMDNS(tb testing.TB) {
	tb.Helper()
	id := strings.TrimSpace(dockerMust(tb, "network", "inspect", "--format", "{{.Id}}", projectName+"_default"))
	if len(id) < 12 {
		tb.Fatalf("network %s_default has id %q", projectName, id)
	}
	bridge := "br-" + id[:12]
	if out, err := exec.Command("ip", "link", "set", "dev", bridge, "multicast", "off").CombinedOutput(); err != nil {
		tb.Logf("WARNING: cannot turn multicast off on %s (%v: %s): a FinFlow running on this host at the same time may resolve app ids to this project's sidecars", bridge, err, strings.TrimSpace(string(out)))
	}
}

// published returns the host address a service's container port is
// published on (it changes when the container is recreated or restarted).
func (p *project) published(tb testing.TB, service string, port int) string {
	tb.Helper()
	out := strings.TrimSpace(p.must(tb, time.Minute, "port", service, fmt.Sprint(port)))
	if out == "" || strings.HasSuffix(out, ":0") {
		tb.Fatalf("%s's port %d is not published (compose port said %q)", service, port, out)
	}
	return "http://" + out
}

// container returns the id of a service's running container.
func (p *project) container(tb testing.TB, service string) string {
	tb.Helper()
	id := strings.TrimSpace(p.must(tb, time.Minute, "ps", "-q", service))
	if id == "" || strings.Contains(id, "\n") {
		tb.Fatalf("service %s has container(s) %q, want one running", service, id)
	}
	return id
}

// waitHealthy polls the gateway's GET /health until every service is ok.
func waitHealthy(tb testing.TB, baseURL string, timeout time.Duration) {
	tb.Helper()
	client := &http.Client{Timeout: 5 * time.Second}
	var last string
	harness.WaitFor(tb, timeout, "GET /health to report every service ok", func() bool {
		resp, err := client.Get(baseURL + "/health")
		if err != nil {
			last = err.Error()
			return false
		}
		defer resp.Body.Close()
		var h struct {
			Status   string            `json:"status"`
			Services map[string]string `json:"services"`
		}
		if err := json.NewDecoder(resp.Body).Decode(&h); err != nil {
			last = fmt.Sprintf("%d, undecodable: %v", resp.StatusCode, err)
			return false
		}
		last = fmt.Sprintf("%d %+v", resp.StatusCode, h)
		return resp.StatusCode == http.StatusOK && h.Status == "ok" && len(h.Services) == 6
	})
	tb.Logf("GET /health: %s", last)
}

// attach returns a harness Env on the project's published gateway and
// simulator, as a user of `docker compose up` reaches them.
func (p *project) attach(tb testing.TB) *harness.Env {
	tb.Helper()
	gateway := p.published(tb, "gateway", 8080)
	tb.Setenv("FINFLOW_RAZORPAY_SIM", p.published(tb, "rzpsim", 8090))
	waitHealthy(tb, gateway, 3*time.Minute)
	// The harness keeps a Redis client for settings; it is the project's
	// Redis, reached at its container address (it is not published).
	redisIP := strings.TrimSpace(dockerMust(tb, "inspect", "--format",
		"{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}", p.container(tb, "redis")))
	env, err := harness.Attach(gateway, redisIP+":6379")
	if err != nil {
		tb.Fatal(err)
	}
	return env
}

// dockerMust runs a docker command and fails the test if it fails.
func dockerMust(tb testing.TB, args ...string) string {
	tb.Helper()
	out, err := exec.Command("docker", args...).CombinedOutput()
	if err != nil {
		tb.Fatalf("docker %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// containerEnv returns one variable of a container's environment.
func containerEnv(tb testing.TB, id, name string) string {
	tb.Helper()
	for _, kv := range strings.Split(dockerMust(tb, "inspect", "--format", "{{range .Config.Env}}{{println .}}{{end}}", id), "\n") {
		if v, ok := strings.CutPrefix(kv, name+"="); ok {
			return v
		}
	}
	return ""
}

// rawResponse is an HTTP answer read off a socket.
type rawResponse struct {
	Status int
	Body   string
}

// requestScript sends one HTTP/1.1 request over bash's /dev/tcp and prints
// the answer: the images under test have no shell or curl of their own.
const requestScript = `exec 3<>"/dev/tcp/127.0.0.1/$PORT" || exit 3
printf '%s %s HTTP/1.1\r\nHost: localhost\r\n%sContent-Type: application/json\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s' \
  "$METHOD" "$TARGET" "$HEADERS" "${#BODY}" "$BODY" >&3
cat <&3`

// fromInside sends a request to 127.0.0.1:port inside a service's network
// namespace (where its app and its sidecar listen on loopback), from a
// throwaway container joined to it.
func fromInside(tb testing.TB, container string, port int, method, target, body string, header map[string]string) rawResponse {
	tb.Helper()
	var hdr strings.Builder
	for k, v := range header {
		fmt.Fprintf(&hdr, "%s: %s\r\n", k, v)
	}
	out := dockerMust(tb, "run", "--rm", "--network", "container:"+container,
		"-e", fmt.Sprintf("PORT=%d", port), "-e", "METHOD="+method, "-e", "TARGET="+target,
		"-e", "HEADERS="+hdr.String(), "-e", "BODY="+body,
		helperImage, "bash", "-c", requestScript)
	head, payload, _ := strings.Cut(out, "\r\n\r\n")
	var r rawResponse
	if _, err := fmt.Sscanf(head, "HTTP/1.1 %d", &r.Status); err != nil {
		tb.Fatalf("%s %s in %s: not an HTTP answer: %q", method, target, container, out)
	}
	r.Body = payload
	return r
}
