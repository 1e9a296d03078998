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

// WatchConfig calls apply with every change to keys in store until ctx is
// done. It subscribes through the configuration API and, because a stream
// can break (a sidecar restart, a store reconnect), it re-subscribes with
// backoff and re-reads the keys after every (re)subscription so that no
// change is missed. apply runs on one goroutine at a time.
//
// The SDK's SubscribeConfigurationItems is not used: it blocks forever when
// the stream fails before its first message, and never reports a broken
// stream.
func (c *Client) WatchConfig(ctx context.Context, store string, keys []string, log *slog.Logger, apply func(map[string]string)) {
	api := pb.NewDaprClient(c.sdk.GrpcClientConn())
	backoff := 250 * time.Millisecond
	for ctx.Err() == nil {
		err := c.watchOnce(ctx, api, store, keys, log, apply)
		if ctx.Err() != nil {
			return
		}
		log.Warn("configuration subscription ended; re-subscribing", "store", store, "err", err, "retry_in", backoff.String())
		select {
		case <-ctx.Done():
			return
		case <-time.After(backoff):
		}
		backoff = min(backoff*2, 10*time.Second)
	}
}

func (c *Client) watchOnce(ctx context.Context, api pb.DaprClient, store string, keys []string, log *slog.Logger, apply func(map[string]string)) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stream, err := api.SubscribeConfiguration(ctx, &pb.SubscribeConfigurationRequest{StoreName: store, Keys: keys})
	if err != nil {
		return fmt.Errorf("subscribing: %w", err)
	}
	// The first message carries the subscription id; once it is here, read
	// the current values so nothing written before the subscription is lost.
	if _, err := stream.Recv(); err != nil {
		return fmt.Errorf("first message: %w", err)
	}
	current, err := c.GetConfig(ctx, store, keys)
	if err != nil {
		return err
	}
	apply(current)
	log.Info("watching runtime settings", "store", store, "keys", len(keys), "set", len(current))
	for {
		msg, err := stream.Recv()
		if err != nil {
			return fmt.Errorf("receiving: %w", err)
		}
		changed := make(map[string]string, len(msg.GetItems()))
		for k, it := range msg.GetItems() {
			changed[k] = it.GetValue()
		}
		if len(changed) > 0 {
			apply(changed)
		}
	}
}
