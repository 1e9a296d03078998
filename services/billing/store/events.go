package store

import (
	"context"

	"github.com/finflow/finflow/platform/contract"
	"github.com/finflow/finflow/services/billing/domain"
)

// Publisher is what Autopay needs from the sidecar (sidecar.Client).
type Publisher interface {
	Publish(ctx context.Context, pubsub, topic string, data any, eventID string) error
}

// Autopay is the domain.Autopay of the pub/sub component finflow-pubsub:
// each event goes to contract.TopicAutopayBills with the bill id as its
// CloudEvent id, for the consumer to de-duplicate.
type Autopay struct{ Pub Publisher }

var _ domain.Autopay = Autopay{}

// Publish implements domain.Autopay.
func (a Autopay) Publish(ctx context.Context, ev contract.AutopayBill) error {
	return a.Pub.Publish(ctx, contract.PubSub, contract.TopicAutopayBills, ev, ev.EventID)
}
