package store_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/finflow/finflow/platform/auth"
	"github.com/finflow/finflow/platform/contract"
	"github.com/finflow/finflow/platform/peers/peerstest"
	"github.com/finflow/finflow/platform/sidecar/sidecartest"
	"github.com/finflow/finflow/services/billing/domain"
	"github.com/finflow/finflow/services/billing/store"
)

// The billing use cases on the real stores, over the in-memory sidecar
// state: one billing instance of a test's own.

const storeName = "billing-store"

// clock is a fake clock that several instances share.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = t
}

// published records the autopay events, in order.
type published struct {
	mu     sync.Mutex
	events []contract.AutopayBill
	down   bool // every publish fails (a broker down)
}

func (p *published) Publish(_ context.Context, _, topic string, data any, eventID string) error {
	ev := data.(contract.AutopayBill)
	if topic != contract.TopicAutopayBills || eventID != ev.BillID || ev.EventID != ev.BillID {
		panic("autopay published to " + topic + " with event id " + eventID)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.down {
		return errors.New("broker down")
	}
	p.events = append(p.events, ev)
	return nil
}

func (p *published) setDown(down bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.down = down
}

func (p *published) Bills() map[string]int {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := map[string]int{}
	for _, ev := range p.events {
		out[ev.BillID]++
	}
	return out
}

// instance is one billing service on state, with its own clock and
// autopay recorder unless given.
func instance(state store.State, clk *clock, pub *published) *domain.Service {
	return &domain.Service{
		Store:         store.New(state, storeName),
		Subscriptions: store.NewSubscriptions(state, storeName),
		Schedule:      store.NewSchedule(state, storeName),
		Autopay:       store.Autopay{Pub: pub},
		Users:         &peerstest.Directory{},
		Log:           slog.New(slog.NewTextHandler(io.Discard, nil)),
		Now:           clk.Now,
	}
}

func newInstance(t *testing.T, start time.Time) (*domain.Service, *clock, *published, *sidecartest.MemState) {
	t.Helper()
	mem := sidecartest.NewMemState()
	clk := &clock{now: start}
	pub := &published{}
	return instance(mem, clk, pub), clk, pub, mem
}

func admin() auth.Caller {
	return auth.Caller{Signed: true, Identity: auth.Identity{Sub: "usr_admin", Role: "admin"}}
}

func owner(userID string) auth.Caller {
	return auth.Caller{Signed: true, Identity: auth.Identity{Sub: userID, Role: "user"}}
}

// sidecarCron is who the cron binding's delivery comes from: no user, no
// calling app.
var sidecarCron = auth.Caller{}
