package listindex_test

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"github.com/finflow/finflow/platform/listindex"
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
			for _, start := range []int64{0, int64(total) + 5, int64(total / 2), 51, 2} {
				t.Run(fmt.Sprintf("%d entries, pages of %d, before %d", total, size, start), func(t *testing.T) {
					want := int64(total)
					if start > 0 && start-1 < want {
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
						if len(page) < size {
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
		if len(page) < 50 {
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
