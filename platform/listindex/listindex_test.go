package listindex_test

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sync"
	"testing"

	"github.com/finflow/finflow/platform/listindex"
	"github.com/finflow/finflow/platform/page"
	"github.com/finflow/finflow/platform/sidecar/sidecartest"
)

func newIndex() listindex.Index {
	return listindex.Index{State: sidecartest.NewMemState(), Store: "s", Prefix: "bills-of"}
}

// Paging through a list of any length, with any page size and from any
// position, yields every entry once, newest first, at its number.
func TestPagingFromAnywhere(t *testing.T) {
	ctx := context.Background()
	for _, total := range []int{0, 1, 49, 50, 99, 100, 101, 237} {
		x := newIndex()
		for i := 1; i <= total; i++ {
			seq, err := x.Append(ctx, "usr_a", fmt.Sprintf("bill_%d", i))
			if err != nil || seq != int64(i) {
				t.Fatalf("Append %d = %d, %v", i, seq, err)
			}
		}
		for _, size := range []int{1, 7, 50} {
			for _, start := range []int64{0, int64(total), int64(total / 2), 51, 2} {
				if start != 0 && (start < 2 || start > int64(total)) {
					continue // not a position of this list: TestBeforeOutsideTheList
				}
				t.Run(fmt.Sprintf("%d entries, pages of %d, before %d", total, size, start), func(t *testing.T) {
					want := int64(total)
					if start > 0 {
						want = start - 1
					}
					before := start
					for {
						page, err := x.Before(ctx, "usr_a", before, size)
						if err != nil {
							t.Fatal(err)
						}
						for _, e := range page {
							if e.Seq != want || e.ID != fmt.Sprintf("bill_%d", want) {
								t.Fatalf("entry %+v, want %d", e, want)
							}
							want--
						}
						if len(page) < size || page[len(page)-1].Seq == 1 {
							break
						}
						before = page[len(page)-1].Seq
					}
					if want != 0 {
						t.Fatalf("paging stopped at %d", want)
					}
				})
			}
		}
	}
}

// Owners racing to append each land once, with distinct numbers.
func TestConcurrentAppends(t *testing.T) {
	ctx := context.Background()
	x := newIndex()
	var wg sync.WaitGroup
	for g := 0; g < 20; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for i := 0; i < 15; i++ {
				if _, err := x.Append(ctx, "usr_b", fmt.Sprintf("pay_%d_%d", g, i)); err != nil {
					t.Error(err)
				}
			}
		}(g)
	}
	wg.Wait()
	seen := map[string]bool{}
	var before int64
	for {
		page, err := x.Before(ctx, "usr_b", before, 50)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range page {
			if seen[e.ID] {
				t.Fatalf("%s listed twice", e.ID)
			}
			seen[e.ID] = true
		}
		if len(page) < 50 || page[len(page)-1].Seq == 1 {
			break
		}
		before = page[len(page)-1].Seq
	}
	if len(seen) != 300 {
		t.Fatalf("%d entries listed, want 300", len(seen))
	}
	if other, _ := x.Before(ctx, "usr_other", 0, 10); len(other) != 0 {
		t.Fatalf("another owner's list = %v", other)
	}
}

// A position a cursor gave is read below only when it lies within the list
// as its head has it, from 2 to the newest entry's number: any other was
// never issued for the list, and Before says so having read only the head.
func TestBeforeOutsideTheList(t *testing.T) {
	ctx := context.Background()
	for _, total := range []int{0, 1, 2, 20, 99, 100, 237} {
		mem := sidecartest.NewMemState()
		x := listindex.Index{State: mem, Store: "s", Prefix: "bills-of"}
		for i := 1; i <= total; i++ {
			if _, err := x.Append(ctx, "usr_a", fmt.Sprintf("bill_%d", i)); err != nil {
				t.Fatal(err)
			}
		}
		last := int64(total)
		cases := []struct {
			name   string
			before int64
			ok     bool
		}{
			{"from the newest (no cursor)", 0, true},
			{"below 2, the lowest issued", 2, total >= 2},
			{"below the newest", last, total >= 2},
			{"just past the newest", last + 1, false},
			{"well past the newest", last + 1000, false},
			{"the largest position", math.MaxInt64, false},
			{"below 1: nothing is", 1, false},
			{"negative", -1, false},
			{"the most negative", math.MinInt64, false},
		}
		for i, tc := range cases {
			if i > 0 && tc.before == 0 {
				continue // an empty list's newest is 0: no cursor, tested first
			}
			t.Run(fmt.Sprintf("%d entries, %s", total, tc.name), func(t *testing.T) {
				got, err := x.Before(ctx, "usr_a", tc.before, 10)
				if !tc.ok {
					if !errors.Is(err, page.ErrInvalidCursor) || got != nil {
						t.Fatalf("Before(%d) of %d entries = %v, %v; want ErrInvalidCursor", tc.before, total, got, err)
					}
					return
				}
				if err != nil {
					t.Fatalf("Before(%d) of %d entries = %v", tc.before, total, err)
				}
				top := last
				if tc.before != 0 {
					top = tc.before - 1
				}
				if want := min(top, 10); int64(len(got)) != want || (len(got) > 0 && got[0].Seq != top) {
					t.Fatalf("Before(%d) of %d entries = %v, want %d entries from %d", tc.before, total, got, want, top)
				}
			})
		}
	}
	// Another owner's list of the same kind: a position is a position, in
	// range there or not by that list's own length.
	x := newIndex()
	for i := 1; i <= 5; i++ {
		if _, err := x.Append(ctx, "usr_long", fmt.Sprintf("bill_%d", i)); err != nil {
			t.Fatal(err)
		}
		if i <= 2 {
			if _, err := x.Append(ctx, "usr_short", fmt.Sprintf("other_%d", i)); err != nil {
				t.Fatal(err)
			}
		}
	}
	if got, err := x.Before(ctx, "usr_short", 2, 10); err != nil || len(got) != 1 || got[0].ID != "other_1" {
		t.Fatalf("Before(2) of the short list = %v, %v; want other_1", got, err)
	}
	if _, err := x.Before(ctx, "usr_short", 5, 10); !errors.Is(err, page.ErrInvalidCursor) {
		t.Fatalf("Before(5) of a list of 2 = %v, want ErrInvalidCursor", err)
	}
}
