// Package ringlog keeps the newest entries of an operator's log (recent
// payments, webhook deliveries) in one item of a service's state store,
// capped at a size. The request path only hands an entry to a queue and
// never waits for the store: one writer per process appends everything
// queued since its last write in one compare-and-swap.
//
// It is a view for operators, not a record of money: an entry queued when
// the queue is full, or still queued when the process is killed, is lost.
package ringlog

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/finflow/finflow/platform/sidecar"
)

// State is what a Log needs from the Dapr sidecar.
type State interface {
	Get(ctx context.Context, store, key string) (sidecar.Item, error)
	Save(ctx context.Context, store, key string, value []byte, etag string) error
	Insert(ctx context.Context, store, key string, value []byte, ttlSeconds int) error
}

// queueSize bounds the entries waiting for the writer.
const queueSize = 1024

// Log is one capped log in a state store item.
type Log struct {
	state      State
	store, key string
	max        int
	queue      chan json.RawMessage
	dropped    atomic.Int64
	log        *slog.Logger
}

type document struct {
	// Entries are newest first.
	Entries []json.RawMessage `json:"entries"`
}

// New returns a Log kept under key in store, holding at most max entries.
func New(state State, store, key string, max int, log *slog.Logger) *Log {
	return &Log{state: state, store: store, key: key, max: max, queue: make(chan json.RawMessage, queueSize), log: log}
}

// Add queues v (encoded as JSON) for the writer. It never blocks: when the
// queue is full the entry is dropped, counted and reported by the writer.
func (l *Log) Add(v any) {
	raw, err := json.Marshal(v)
	if err != nil {
		l.log.Warn("operator log entry not encodable; dropped", "log", l.key, "err", err.Error())
		return
	}
	select {
	case l.queue <- raw:
	default:
		l.dropped.Add(1)
	}
}

// Run writes the queued entries every interval until ctx ends, then writes
// what is left once more.
func (l *Log) Run(ctx context.Context, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			final, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			l.Flush(final)
			cancel()
			return
		case <-t.C:
			l.Flush(ctx)
		}
	}
}

// Flush writes every queued entry now. A failed write keeps nothing back:
// the entries are logged as lost.
func (l *Log) Flush(ctx context.Context) {
	var batch []json.RawMessage
	for len(batch) < l.max {
		select {
		case raw := <-l.queue:
			batch = append(batch, raw)
			continue
		default:
		}
		break
	}
	if n := l.dropped.Swap(0); n > 0 {
		l.log.Warn("operator log queue full; entries dropped", "log", l.key, "dropped", n)
	}
	if len(batch) == 0 {
		return
	}
	if err := l.write(ctx, batch); err != nil {
		l.log.Warn("operator log not written; entries lost", "log", l.key, "entries", len(batch), "err", err.Error())
	}
}

// write prepends batch (oldest first) to the stored entries by
// compare-and-swap.
func (l *Log) write(ctx context.Context, batch []json.RawMessage) error {
	_, err := sidecar.Update(ctx, l.state, l.store, l.key, func(doc *document, _ bool) error {
		entries := make([]json.RawMessage, 0, len(batch)+len(doc.Entries))
		for i := len(batch) - 1; i >= 0; i-- {
			entries = append(entries, batch[i])
		}
		entries = append(entries, doc.Entries...)
		if len(entries) > l.max {
			entries = entries[:l.max]
		}
		doc.Entries = entries
		return nil
	})
	return err
}

func (l *Log) read(ctx context.Context) (document, string, bool, error) {
	it, err := l.state.Get(ctx, l.store, l.key)
	if err != nil || !it.Found() {
		return document{}, "", false, err
	}
	var doc document
	if err := json.Unmarshal(it.Value, &doc); err != nil {
		return document{}, "", false, fmt.Errorf("decoding operator log %s: %w", l.key, err)
	}
	return doc, it.ETag, true, nil
}

// Entries returns the stored entries, newest first (not those still
// queued).
func (l *Log) Entries(ctx context.Context) ([]json.RawMessage, error) {
	doc, _, _, err := l.read(ctx)
	if doc.Entries == nil {
		doc.Entries = []json.RawMessage{}
	}
	return doc.Entries, err
}
