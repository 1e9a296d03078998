package sidecar

import (
	"context"
	"io"
	"log/slog"
	"net"
	"sync"
	"testing"
	"time"

	commonpb "github.com/dapr/dapr/pkg/proto/common/v1"
	pb "github.com/dapr/dapr/pkg/proto/runtime/v1"
	dapr "github.com/dapr/go-sdk/client"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/test/bufconn"
)

// WatchConfig's backoff doubles while subscriptions fail or break at once,
// and starts again from the first wait once one has lasted.
func TestConfigRetry(t *testing.T) {
	const first, maxWait, healthy = 250 * time.Millisecond, 10 * time.Second, 5 * time.Second
	cases := []struct {
		name string
		ups  []time.Duration // how long each subscription was established
		want []time.Duration // the wait after each
	}{
		{"failures double up to the max", []time.Duration{0, 0, 0, 0, 0, 0, 0, 0},
			[]time.Duration{first, 2 * first, 4 * first, 8 * first, 16 * first, 32 * first, maxWait, maxWait}},
		{"short-lived subscriptions keep doubling", []time.Duration{time.Second, time.Second, time.Second},
			[]time.Duration{first, 2 * first, 4 * first}},
		{"a healthy subscription resets the backoff", []time.Duration{0, 0, 0, 0, 0, 0, 0, time.Minute, 0},
			[]time.Duration{first, 2 * first, 4 * first, 8 * first, 16 * first, 32 * first, maxWait, first, 2 * first}},
		{"every break after a healthy subscription waits the first wait", []time.Duration{time.Minute, healthy, time.Hour, 10 * time.Second},
			[]time.Duration{first, first, first, first}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := configRetry{first: first, max: maxWait, healthy: healthy}
			for i, up := range tc.ups {
				if got := r.after(up); got != tc.want[i] {
					t.Fatalf("break %d (up %s): after = %s, want %s", i+1, up, got, tc.want[i])
				}
			}
		})
	}
}

// fakeConfigStore is a sidecar's configuration API over a map: Get answers
// from the map (leaving out keys it does not hold, as daprd does), and
// subscriptions get an update per change while notify is on.
type fakeConfigStore struct {
	pb.UnimplementedDaprServer
	mu     sync.Mutex
	values map[string]string
	notify bool
	subs   map[chan map[string]string]chan struct{} // updates -> break
	count  int                                      // subscriptions made
}

func (f *fakeConfigStore) GetConfiguration(_ context.Context, req *pb.GetConfigurationRequest) (*pb.GetConfigurationResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	items := map[string]*commonpb.ConfigurationItem{}
	for _, k := range req.GetKeys() {
		if v, ok := f.values[k]; ok {
			items[k] = &commonpb.ConfigurationItem{Value: v}
		}
	}
	return &pb.GetConfigurationResponse{Items: items}, nil
}

func (f *fakeConfigStore) SubscribeConfiguration(_ *pb.SubscribeConfigurationRequest, stream pb.Dapr_SubscribeConfigurationServer) error {
	updates, broken := make(chan map[string]string, 16), make(chan struct{})
	f.mu.Lock()
	f.subs[updates] = broken
	f.count++
	f.mu.Unlock()
	defer func() {
		f.mu.Lock()
		delete(f.subs, updates)
		f.mu.Unlock()
	}()
	if err := stream.Send(&pb.SubscribeConfigurationResponse{Id: "sub"}); err != nil {
		return err
	}
	for {
		select {
		case <-broken:
			return io.ErrUnexpectedEOF
		case <-stream.Context().Done():
			return nil
		case u := <-updates:
			items := map[string]*commonpb.ConfigurationItem{}
			for k, v := range u {
				items[k] = &commonpb.ConfigurationItem{Value: v}
			}
			if err := stream.Send(&pb.SubscribeConfigurationResponse{Id: "sub", Items: items}); err != nil {
				return err
			}
		}
	}
}

// set writes (or, with "", deletes) a key and tells subscribers, as daprd's
// Redis store does (a deleted key arrives as an empty value), when
// notifications are on.
func (f *fakeConfigStore) set(k, v string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if v == "" {
		delete(f.values, k)
	} else {
		f.values[k] = v
	}
	if f.notify {
		for u := range f.subs {
			u <- map[string]string{k: v}
		}
	}
}

func (f *fakeConfigStore) setNotify(on bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.notify = on
}

// breakStreams ends every subscription with an error, as a sidecar restart
// does.
func (f *fakeConfigStore) breakStreams() {
	f.mu.Lock()
	defer f.mu.Unlock()
	for u, broken := range f.subs {
		close(broken)
		delete(f.subs, u)
	}
}

func (f *fakeConfigStore) subscriptions() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.count
}

// startFakeConfigStore serves f and returns a Client connected to it.
func startFakeConfigStore(tb testing.TB, f *fakeConfigStore, resync time.Duration) *Client {
	tb.Helper()
	ln := bufconn.Listen(1 << 20)
	srv := grpc.NewServer()
	pb.RegisterDaprServer(srv, f)
	go func() { _ = srv.Serve(ln) }()
	tb.Cleanup(srv.Stop)
	conn, err := grpc.NewClient("passthrough:///bufconn",
		grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) { return ln.DialContext(ctx) }),
		grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		tb.Fatalf("dialing the fake sidecar: %v", err)
	}
	c := &Client{sdk: dapr.NewClientWithConnection(conn), configResync: resync, configRetryFirst: 10 * time.Millisecond}
	tb.Cleanup(c.sdk.Close)
	return c
}

// applied is what WatchConfig's apply has been given, as the settings
// package keeps it ("" for a key the store does not hold).
type applied struct {
	mu     sync.Mutex
	values map[string]string
}

func (a *applied) apply(m map[string]string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	for k, v := range m {
		a.values[k] = v
	}
}

func (a *applied) get(k string) (string, bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	v, ok := a.values[k]
	return v, ok
}

func waitUntil(tb testing.TB, within time.Duration, what string, cond func() bool) {
	tb.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			tb.Fatalf("not within %s: %s", within, what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// WatchConfig does not stay blind: a change or deletion reaches apply
// whether it arrives as an update, while the stream was broken, or while
// the stream was open but silent (notifications off, as on a Redis
// restarted without them).
func TestWatchConfigSeesEveryChange(t *testing.T) {
	const key = "users.list.default_limit"
	cases := []struct {
		name   string
		change func(f *fakeConfigStore)
		want   string
	}{
		{"changed, notified", func(f *fakeConfigStore) { f.set(key, "7") }, "7"},
		{"deleted, notified", func(f *fakeConfigStore) { f.set(key, "") }, ""},
		{"changed while the stream was broken", func(f *fakeConfigStore) {
			f.setNotify(false)
			f.breakStreams()
			f.set(key, "7")
			f.setNotify(true)
		}, "7"},
		{"deleted while the stream was broken", func(f *fakeConfigStore) {
			f.setNotify(false)
			f.set(key, "")
			f.breakStreams()
			f.setNotify(true)
		}, ""},
		{"changed with notifications off", func(f *fakeConfigStore) {
			f.setNotify(false)
			f.set(key, "7")
		}, "7"},
		{"deleted with notifications off", func(f *fakeConfigStore) {
			f.setNotify(false)
			f.set(key, "")
		}, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := &fakeConfigStore{values: map[string]string{key: "5"}, notify: true, subs: map[chan map[string]string]chan struct{}{}}
			c := startFakeConfigStore(t, f, 100*time.Millisecond)
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan struct{})
			t.Cleanup(func() { cancel(); <-done })
			got := &applied{values: map[string]string{}}
			go func() {
				defer close(done)
				c.WatchConfig(ctx, "finflow-settings", []string{key, "other.key"}, slog.New(slog.NewTextHandler(io.Discard, nil)), got.apply)
			}()
			waitUntil(t, 5*time.Second, "the first read applied", func() bool { v, _ := got.get(key); return v == "5" })
			if v, ok := got.get("other.key"); !ok || v != "" {
				t.Fatalf("first read: other.key (not in the store) = %q (given %v), want given as \"\"", v, ok)
			}
			tc.change(f)
			waitUntil(t, 5*time.Second, tc.name+": "+key+" applied as "+tc.want, func() bool { v, _ := got.get(key); return v == tc.want })
		})
	}
}

// After many breaks, each following a subscription that had been up a
// while, WatchConfig re-subscribes after the first wait, not the longest.
func TestWatchConfigResubscribesPromptlyAfterHealthyStreams(t *testing.T) {
	f := &fakeConfigStore{values: map[string]string{}, notify: true, subs: map[chan map[string]string]chan struct{}{}}
	c := startFakeConfigStore(t, f, time.Hour)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	t.Cleanup(func() { cancel(); <-done })
	go func() {
		defer close(done)
		c.WatchConfig(ctx, "finflow-settings", []string{"k"}, slog.New(slog.NewTextHandler(io.Discard, nil)), func(map[string]string) {})
	}()
	// configRetryFirst 10 ms: healthy after 200 ms, longest wait 400 ms.
	for i := 1; i <= 6; i++ {
		waitUntil(t, 5*time.Second, "subscription", func() bool { return f.subscriptions() == i })
		time.Sleep(250 * time.Millisecond) // healthy
		f.breakStreams()
		start := time.Now()
		waitUntil(t, 5*time.Second, "re-subscription", func() bool { return f.subscriptions() == i+1 })
		if took := time.Since(start); took > 150*time.Millisecond {
			t.Fatalf("break %d: re-subscribed after %s, want the first wait (10 ms) after a healthy subscription", i, took)
		}
	}
}
