package topology

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/redis/go-redis/v9"
	"gopkg.in/yaml.v3"
)

// PingRedis checks that a Redis answers at addr.
func PingRedis(ctx context.Context, addr string) error {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	c := redis.NewClient(&redis.Options{Addr: addr, DialTimeout: 2 * time.Second, MaxRetries: -1})
	defer c.Close()
	return c.Ping(ctx).Err()
}

// Redis is a redis-server this launcher started (nil Cmd when it found one
// already running).
type Redis struct {
	Addr string
	cmd  *exec.Cmd
	done chan struct{}
}

// EnsureRedis returns a Redis answering at addr. When none answers and start
// is true and addr is on this machine, it starts redis-server with its data
// (append-only file) in dataDir, installing Debian's redis-server package
// first when it is missing and this process runs as root.
func EnsureRedis(ctx context.Context, addr string, start bool, dataDir string, say func(string, ...any)) (*Redis, error) {
	if err := PingRedis(ctx, addr); err == nil {
		say("using the Redis at %s", addr)
		return &Redis{Addr: addr}, nil
	} else if !start {
		return nil, fmt.Errorf("Redis is not answering at %s (%v): start one, or run `make run`, which starts one", addr, err)
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("REDIS_ADDR %q is not host:port", addr)
	}
	if host != "localhost" && host != "127.0.0.1" && host != "::1" {
		return nil, fmt.Errorf("Redis is not answering at %s, and it is not on this machine, so it cannot be started here", addr)
	}
	bin, installed, err := redisServerBinary(say)
	if err != nil {
		return nil, err
	}
	if installed && PingRedis(ctx, addr) == nil {
		// Debian's package may start its own service on the default port.
		say("using the redis-server the package just started at %s", addr)
		return &Redis{Addr: addr}, nil
	}
	if err := os.MkdirAll(dataDir, 0o755); err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, RedisServerArgs(port, dataDir)...)
	cmd.SysProcAttr = sysProcAttr()
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting %s: %w", bin, err)
	}
	r := &Redis{Addr: addr, cmd: cmd, done: make(chan struct{})}
	go func() { _ = cmd.Wait(); close(r.done) }()
	deadline := time.Now().Add(15 * time.Second)
	for {
		if PingRedis(ctx, addr) == nil {
			say("started redis-server on %s (data in %s)", addr, dataDir)
			return r, nil
		}
		select {
		case <-r.done:
			return nil, fmt.Errorf("redis-server exited at start; see %s", filepath.Join(dataDir, "redis.log"))
		default:
		}
		if time.Now().After(deadline) {
			r.Stop()
			return nil, fmt.Errorf("redis-server did not answer on %s within 15s; see %s", addr, filepath.Join(dataDir, "redis.log"))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// KeyspaceEvents is the notify-keyspace-events value Dapr's Redis
// configuration store (configuration.redis, components-contrib 1.14) sets
// with CONFIG SET when a subscription starts: keyspace events (K) for
// generic commands such as DEL (g), string commands such as SET ($), expired
// (x) and evicted (e) keys. Without it, no settings change reaches a
// service. A Redis restarted after the sidecars subscribed has only what its
// command line says, so every Redis FinFlow starts says it.
const KeyspaceEvents = "Kg$xe"

// RedisServerArgs are the arguments the launcher starts redis-server with
// on port, with its append-only file in dataDir. Restarting Redis by hand
// with the same arguments gives the same Redis, keyspace notifications
// included.
func RedisServerArgs(port, dataDir string) []string {
	return []string{
		"--port", port, "--bind", "127.0.0.1", "--dir", dataDir,
		"--appendonly", "yes", "--appendfsync", "everysec", "--save", "",
		"--notify-keyspace-events", KeyspaceEvents,
		"--daemonize", "no", "--logfile", filepath.Join(dataDir, "redis.log"),
	}
}

// redisServerBinary finds redis-server, installing it with apt-get as root
// when it is missing (installed reports that it did).
func redisServerBinary(say func(string, ...any)) (bin string, installed bool, err error) {
	if p, err := exec.LookPath("redis-server"); err == nil {
		return p, false, nil
	}
	if os.Geteuid() != 0 {
		return "", false, errors.New("redis-server is not installed: install it (Debian/Ubuntu: sudo apt-get install redis-server; macOS: brew install redis) or point REDIS_ADDR at a running Redis")
	}
	if _, err := exec.LookPath("apt-get"); err != nil {
		return "", false, errors.New("redis-server is not installed and apt-get is not available: install Redis or point REDIS_ADDR at a running one")
	}
	say("redis-server is missing; installing Debian's redis-server package")
	install := func() error {
		cmd := exec.Command("apt-get", "install", "-y", "--no-install-recommends", "redis-server")
		cmd.Env = append(os.Environ(), "DEBIAN_FRONTEND=noninteractive")
		out, err := cmd.CombinedOutput()
		if err != nil {
			return fmt.Errorf("apt-get install redis-server: %v: %s", err, lastLines(string(out), 5))
		}
		return nil
	}
	if err := install(); err != nil {
		if out, uerr := exec.Command("apt-get", "update").CombinedOutput(); uerr != nil {
			return "", false, fmt.Errorf("apt-get update: %v: %s", uerr, lastLines(string(out), 5))
		}
		if err := install(); err != nil {
			return "", false, err
		}
	}
	bin, err = exec.LookPath("redis-server")
	return bin, true, err
}

// Started reports whether this launcher started the redis-server.
func (r *Redis) Started() bool { return r != nil && r.cmd != nil }

// Stop stops a redis-server this launcher started (it writes its
// append-only file first); it does nothing for one it found running.
func (r *Redis) Stop() {
	if r == nil || r.cmd == nil || r.cmd.Process == nil {
		return
	}
	_ = syscall.Kill(-r.cmd.Process.Pid, syscall.SIGTERM)
	select {
	case <-r.done:
	case <-time.After(10 * time.Second):
		_ = syscall.Kill(-r.cmd.Process.Pid, syscall.SIGKILL)
		<-r.done
	}
}

// SeedSettings writes FinFlow's runtime settings from file (a flat YAML map
// of key: value) into the Redis configuration store at addr, in the
// store's "value||version" form. Keys that already hold a value are left as
// they are, so an operator's change survives a restart.
func SeedSettings(ctx context.Context, addr, file string) (added, kept int, err error) {
	raw, err := os.ReadFile(file)
	if err != nil {
		return 0, 0, fmt.Errorf("reading settings: %w", err)
	}
	var values map[string]any
	if err := yaml.Unmarshal(raw, &values); err != nil {
		return 0, 0, fmt.Errorf("parsing %s: %w", file, err)
	}
	keys := make([]string, 0, len(values))
	for k := range values {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	c := redis.NewClient(&redis.Options{Addr: addr})
	defer c.Close()
	for _, k := range keys {
		ok, err := c.SetNX(ctx, k, fmt.Sprint(values[k])+"||1", 0).Result()
		if err != nil {
			return added, kept, fmt.Errorf("seeding %s: %w", k, err)
		}
		if ok {
			added++
		} else {
			kept++
		}
	}
	return added, kept, nil
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, " / ")
}
