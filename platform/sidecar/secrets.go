package sidecar

import (
	"context"
	"fmt"

	dapr "github.com/dapr/go-sdk/client"

	"github.com/finflow/finflow/platform/tracectx"
)

// Secret reads the secret name from the secret store and returns its
// key/value pairs.
func (c *Client) Secret(ctx context.Context, store, name string) (map[string]string, error) {
	ctx, cancel := opContext(ctx)
	defer cancel()
	v, err := c.sdk.GetSecret(ctx, store, name, nil)
	if err != nil {
		return nil, fmt.Errorf("%w: reading secret %s from %s: %v", ErrSidecar, name, store, err)
	}
	return v, nil
}

// Publish sends data (JSON-encoded unless it is []byte) to topic on pubsub.
// eventID, when set, becomes the CloudEvent id so consumers can de-duplicate.
func (c *Client) Publish(ctx context.Context, pubsub, topic string, data any, eventID string) error {
	ctx, cancel := opContext(ctx)
	defer cancel()
	meta := map[string]string{}
	if eventID != "" {
		meta["cloudevent.id"] = eventID
	}
	if tp, ok := tracectx.From(ctx); ok {
		// The caller's trace goes into the CloudEvent (Dapr's override of
		// its traceparent), where the subscriber finds it.
		meta["cloudevent.traceparent"] = tp.Child().String()
	}
	opts := []dapr.PublishEventOption{dapr.PublishEventWithContentType("application/json")}
	if len(meta) > 0 {
		opts = append(opts, dapr.PublishEventWithMetadata(meta))
	}
	if err := c.sdk.PublishEvent(ctx, pubsub, topic, data, opts...); err != nil {
		return fmt.Errorf("%w: publishing to %s/%s: %v", ErrSidecar, pubsub, topic, err)
	}
	return nil
}
