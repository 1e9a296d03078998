// Package listindex keeps, per owner, an append-only list of ids in a Dapr
// state store, read newest first in pages: a user's bills, payments or
// top-ups. It exists so that a listing costs a bounded number of state
// round trips whatever the owner's history:
//
//   - the head document <prefix>/<owner> holds the count and the newest
//     entries (between PageSize and 2·PageSize of them);
//   - older entries move, PageSize at a time, into immutable pages
//     <prefix>/<owner>/<n> (page n holds entries n·PageSize+1 to
//     (n+1)·PageSize), written before the head that drops them.
//
// Appending is one compare-and-swap of the head (sidecar.Update), plus one
// page write every PageSize appends. Reading up to PageSize entries is one
// read of the head and at most one bulk read of the pages they fall in.
//
// Entry n is the n-th id appended (its sequence number, from 1). An id may
// be appended more than once (a retried create that cannot know whether its
// first try got this far): the indexed item records the sequence number it
// was created with, and a reader keeps an entry only when the item it
// names carries the entry's number. So each item is listed once, at one
// place that never moves, and an item created while a client pages (a
// higher number than any it has seen) never appears twice.
package listindex

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"

	"github.com/finflow/finflow/platform/page"
	"github.com/finflow/finflow/platform/sidecar"
)

// PageSize is how many entries an archived page holds.
const PageSize = 50

// State is what the index needs of a state client.
type State interface {
	sidecar.Versioned
	BulkGet(ctx context.Context, store string, keys []string) ([]sidecar.Item, error)
}

// Index is the lists under one key prefix in one state store.
type Index struct {
	State  State
	Store  string
	Prefix string
}

// Entry is one id at its sequence number.
type Entry struct {
	Seq int64
	ID  string
}

type head struct {
	Count   int64    `json:"count"`
	Pages   int64    `json:"pages"`   // archived pages: entries 1 to Pages·PageSize
	Entries []string `json:"entries"` // newest first: Count, Count-1, ...
}

type archived struct {
	Entries []string `json:"entries"` // newest first
}

func (x Index) headKey(owner string) string { return x.Prefix + "/" + owner }
func (x Index) pageKey(owner string, n int64) string {
	return x.Prefix + "/" + owner + "/" + strconv.FormatInt(n, 10)
}

// Append adds id to owner's list and returns its sequence number.
func (x Index) Append(ctx context.Context, owner, id string) (int64, error) {
	h, err := sidecar.Update(ctx, x.State, x.Store, x.headKey(owner), func(h *head, _ bool) error {
		h.Count++
		h.Entries = append([]string{id}, h.Entries...)
		if len(h.Entries) < 2*PageSize {
			return nil
		}
		// Move the oldest PageSize entries into their page (the same
		// content whichever writer gets here first), then drop them.
		n := len(h.Entries)
		raw, _ := json.Marshal(archived{Entries: h.Entries[n-PageSize:]})
		if err := x.State.Save(ctx, x.Store, x.pageKey(owner, h.Pages), raw, ""); err != nil {
			return fmt.Errorf("archiving page %d of %s: %w", h.Pages, x.headKey(owner), err)
		}
		h.Entries = h.Entries[:n-PageSize]
		h.Pages++
		return nil
	})
	if err != nil {
		return 0, err
	}
	return h.Count, nil
}

// Before returns up to n entries (at most PageSize) of owner's list whose
// sequence numbers are below before (0: from the newest), newest first.
// It reads the head and, if needed, the one or two pages the entries fall
// in, in one bulk read.
//
// A before other than 0 is a position a cursor gave: it must lie within
// the list as the head has it (page.Within: from 2 to the newest entry's
// number). Anything else, a position past the newest entry in particular,
// was never issued for this list, and Before returns page.ErrInvalidCursor
// (wrapped) having read only the head. The check costs no round trip: the
// head is read anyway.
func (x Index) Before(ctx context.Context, owner string, before int64, n int) ([]Entry, error) {
	n = min(max(n, 0), PageSize)
	it, err := x.State.Get(ctx, x.Store, x.headKey(owner))
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", x.headKey(owner), err)
	}
	var h head
	if it.Found() {
		if err := json.Unmarshal(it.Value, &h); err != nil {
			return nil, fmt.Errorf("decoding %s: %w", x.headKey(owner), err)
		}
	}
	top := h.Count // the newest wanted
	if before != 0 {
		if err := page.Within(before, h.Count); err != nil {
			return nil, fmt.Errorf("reading %s below %d (of %d): %w", x.headKey(owner), before, h.Count, err)
		}
		top = before - 1
	}
	out := make([]Entry, 0, n)
	oldestInHead := h.Count - int64(len(h.Entries)) + 1
	for seq := top; seq >= oldestInHead && seq >= 1 && len(out) < n; seq-- {
		out = append(out, Entry{Seq: seq, ID: h.Entries[h.Count-seq]})
	}
	if len(out) == n {
		return out, nil
	}
	next := top
	if len(out) > 0 {
		next = out[len(out)-1].Seq - 1
	}
	next = min(next, oldestInHead-1)
	if next < 1 {
		return out, nil
	}
	// The rest lies in the archived pages holding next, next-1, ...
	first, last := (next-1)/PageSize, max(next-int64(n-len(out))+1, 1)
	lastPage := (last - 1) / PageSize
	var keys []string
	for p := first; p >= lastPage; p-- {
		keys = append(keys, x.pageKey(owner, p))
	}
	items, err := x.State.BulkGet(ctx, x.Store, keys)
	if err != nil {
		return nil, fmt.Errorf("reading the pages of %s: %w", x.headKey(owner), err)
	}
	pages := map[string]archived{}
	for _, it := range items {
		var a archived
		if it.Found() {
			if err := json.Unmarshal(it.Value, &a); err != nil {
				return nil, fmt.Errorf("decoding %s: %w", it.Key, err)
			}
		}
		pages[it.Key] = a
	}
	for seq := next; seq >= 1 && len(out) < n; seq-- {
		p := (seq - 1) / PageSize
		a := pages[x.pageKey(owner, p)]
		i := (p+1)*PageSize - seq // newest first within the page
		if int(i) >= len(a.Entries) {
			return nil, fmt.Errorf("%s: page %d is missing entry %d", x.headKey(owner), p, seq)
		}
		out = append(out, Entry{Seq: seq, ID: a.Entries[i]})
	}
	return out, nil
}
