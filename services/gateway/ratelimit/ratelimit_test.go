package ratelimit

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"os/exec"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// startRedis runs a private redis-server for the test; it fails, never
// skips, when redis-server is missing.
func startRedis(t *testing.T) string {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		t.Fatalf("this test needs redis-server (apt-get install redis-server; make test installs it where it can)")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	cmd := exec.Command(bin, "--port", strconv.Itoa(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	addr := "127.0.0.1:" + strconv.Itoa(port)
	for i := 0; i < 100; i++ {
		c := redis.NewClient(&redis.Options{Addr: addr})
		err := c.Ping(context.Background()).Err()
		c.Close()
		if err == nil {
			return addr
		}
		time.Sleep(30 * time.Millisecond)
	}
	t.Fatalf("redis-server did not answer on %s", addr)
	return ""
}

// The limiter against a real Redis.
func TestLimiterAgainstRedis(t *testing.T) {
	rdb := redis.NewClient(&redis.Options{Addr: startRedis(t)})
	defer rdb.Close()
	l := New(rdb, fmt.Sprintf("ratelimit-test-%d:", rand.Int64()))
	// Two "replicas" share the count: 10 allowed in the window, whichever
	// counts them.
	other := New(rdb, l.prefix)
	var wg sync.WaitGroup
	var mu sync.Mutex
	allowed := 0
	for i := 0; i < 30; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			lim := l
			if i%2 == 1 {
				lim = other
			}
			d, err := lim.Allow(context.Background(), "usr_x", 10, time.Minute)
			if err != nil {
				t.Error(err)
			}
			if d.Allowed {
				mu.Lock()
				allowed++
				mu.Unlock()
			} else if d.RetryAfter <= 0 || d.RetryAfter > time.Minute {
				t.Errorf("RetryAfter = %v", d.RetryAfter)
			}
		}(i)
	}
	wg.Wait()
	if allowed != 10 {
		t.Fatalf("%d allowed, want 10", allowed)
	}
	if d, _ := l.Allow(context.Background(), "usr_other", 10, time.Minute); !d.Allowed {
		t.Fatalf("another caller was limited")
	}
}
