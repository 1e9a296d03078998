package domain

import (
	"fmt"
	"testing"
)

// deliveryFailures counts each result's failed deliveries, forgets a count
// when asked, and keeps at most keepDeliveryFailures counts however many
// results fail once and are never seen again (applied by another replica).
func TestDeliveryFailures(t *testing.T) {
	var d deliveryFailures
	for i, want := range []int{1, 2, 3} {
		if n := d.fail("evt_a"); n != want {
			t.Fatalf("failure %d of evt_a counted %d, want %d", i+1, n, want)
		}
	}
	d.forget("evt_a")
	if n := d.fail("evt_a"); n != 1 {
		t.Fatalf("after forget, evt_a counted %d, want 1", n)
	}
	d.forget("evt_never_failed") // nothing to forget: no effect

	for i := 0; i < 3*keepDeliveryFailures; i++ {
		d.fail(fmt.Sprintf("evt_once_%d", i))
		if n := d.fail("evt_b"); n != i+1 {
			t.Fatalf("evt_b, failing all along, counted %d after %d failures", n, i+1)
		}
		if got := d.n.Len(); got > keepDeliveryFailures {
			t.Fatalf("%d counts kept after %d results failed", got, i+2)
		}
	}
}
