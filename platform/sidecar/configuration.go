package sidecar

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	pb "github.com/dapr/dapr/pkg/proto/runtime/v1"
)

// GetConfig reads keys from a configuration store. Keys the store does not
// hold are absent from the result.
func (c *Client) GetConfig(ctx context.Context, store string, keys []string) (map[string]string, error) {
	ctx, cancel := opContext(ctx)
	defer cancel()
	items, err := c.sdk.GetConfigurationItems(ctx, store, keys)
	if err != nil {
		return nil, fmt.Errorf("%w: reading configuration from %s: %v", ErrSidecar, store, err)
	}
	out := make(map[string]string, len(items))
	for k, it := range items {
		if it != nil {
			out[k] = it.Value
		}
	}
	return out, nil
}

// Configuration watch timing (Client fields of the same names override
// them in tests).
const (
	// configRetryFirst is the first wait before subscribing again; it
	// doubles after every failed or short-lived subscription, up to
	// configRetryMax.
	configRetryFirst = 250 * time.Millisecond
	configRetryMax   = 10 * time.Second
	// configHealthyAfter is how long a subscription must have lasted for
	// the next break to count as a first one again.
	configHealthyAfter = 5 * time.Second
	// configResyncEvery is how often a live subscription reads every key
	// again. A stream can be up and blind: Redis restarted without keyspace
	// notifications, or notifications published while daprd's Redis
	// connection was down, leave the stream open with nothing on it.
	configResyncEvery = 30 * time.Second
)

// WatchConfig calls apply with every change to keys in store until ctx is
// done. It subscribes through the configuration API and, because a stream
// can break (a sidecar restart, a store reconnect), it re-subscribes with
// backoff (back to its shortest once a subscription has lasted a few
// seconds). It reads all of keys after every (re)subscription, and every 30
// s while subscribed, because a stream can also stay open and miss changes
// (docs/operations.md); a key the store does not hold is given to apply as
// "", so a deleted key is seen as deleted by a read as well as by an update.
// apply runs on one goroutine at a time.
//
// The SDK's SubscribeConfigurationItems is not used: it blocks forever when
// the stream fails before its first message, and never reports a broken
// stream.
func (c *Client) WatchConfig(ctx context.Context, store string, keys []string, log *slog.Logger, apply func(map[string]string)) {
	api := pb.NewDaprClient(c.sdk.GrpcClientConn())
	retry := configRetry{first: configRetryFirst, max: configRetryMax, healthy: configHealthyAfter}
	if c.configRetryFirst > 0 {
		retry.first, retry.max, retry.healthy = c.configRetryFirst, 40*c.configRetryFirst, 20*c.configRetryFirst
	}
	for ctx.Err() == nil {
		up, err := c.watchOnce(ctx, api, store, keys, log, apply)
		if ctx.Err() != nil {
			return
		}
		wait := retry.after(up)
		log.Warn("configuration subscription ended; re-subscribing", "store", store, "err", err, "retry_in", wait.String())
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
	}
}

// configRetry is WatchConfig's backoff between subscriptions.
type configRetry struct {
	first, max, healthy time.Duration
	next                time.Duration
}

// after returns how long to wait before subscribing again after a
// subscription that was established for up (0: never established): the
// first wait after a healthy one, twice the last wait otherwise.
func (r *configRetry) after(up time.Duration) time.Duration {
	if r.next == 0 || up >= r.healthy {
		r.next = r.first
	}
	wait := r.next
	r.next = min(r.next*2, r.max)
	return wait
}

// watchOnce runs one subscription until it breaks, and returns how long it
// was established (0 if it never was) and why it ended.
func (c *Client) watchOnce(ctx context.Context, api pb.DaprClient, store string, keys []string, log *slog.Logger, apply func(map[string]string)) (time.Duration, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stream, err := api.SubscribeConfiguration(ctx, &pb.SubscribeConfigurationRequest{StoreName: store, Keys: keys})
	if err != nil {
		return 0, fmt.Errorf("subscribing: %w", err)
	}
	// The first message carries the subscription id; once it is here, read
	// the current values so nothing written before the subscription is lost.
	if _, err := stream.Recv(); err != nil {
		return 0, fmt.Errorf("first message: %w", err)
	}
	current, err := c.readAllConfig(ctx, store, keys)
	if err != nil {
		return 0, err
	}
	apply(current)
	since := time.Now()
	log.Info("watching runtime settings", "store", store, "keys", len(keys))

	type received struct {
		msg *pb.SubscribeConfigurationResponse
		err error
	}
	msgs := make(chan received)
	go func() {
		for {
			msg, err := stream.Recv()
			select {
			case msgs <- received{msg, err}:
			case <-ctx.Done():
				return
			}
			if err != nil {
				return
			}
		}
	}()
	every := c.configResync
	if every <= 0 {
		every = configResyncEvery
	}
	resync := time.NewTicker(every)
	defer resync.Stop()
	for {
		select {
		case <-ctx.Done():
			return time.Since(since), ctx.Err()
		case <-resync.C:
			current, err := c.readAllConfig(ctx, store, keys)
			if err != nil {
				// The stream breaks too when the sidecar is gone; until
				// then, keep what it delivers.
				log.Warn("re-reading runtime settings failed", "store", store, "err", err)
				continue
			}
			apply(current)
		case r := <-msgs:
			if r.err != nil {
				return time.Since(since), fmt.Errorf("receiving: %w", r.err)
			}
			changed := make(map[string]string, len(r.msg.GetItems()))
			for k, it := range r.msg.GetItems() {
				changed[k] = it.GetValue()
			}
			if len(changed) > 0 {
				apply(changed)
			}
		}
	}
}

// readAllConfig reads keys from store, giving "" for each key the store
// does not hold (GetConfig leaves those out).
func (c *Client) readAllConfig(ctx context.Context, store string, keys []string) (map[string]string, error) {
	current, err := c.GetConfig(ctx, store, keys)
	if err != nil {
		return nil, err
	}
	for _, k := range keys {
		if _, ok := current[k]; !ok {
			current[k] = ""
		}
	}
	return current, nil
}
