package store

import (
	"fmt"
	"testing"
)

// claimsSeen remembers a bill until it is forgotten or pushed out: at most
// keepClaimsSeen bills, the one used least recently going first, so a bill
// being paid again and again stays however many others pass.
func TestClaimsSeen(t *testing.T) {
	c := newClaimsSeen()
	if c.seen("bill_a") {
		t.Fatal("a bill never seen is remembered")
	}
	c.see("bill_a")
	c.see("bill_a")
	if !c.seen("bill_a") {
		t.Fatal("a bill seen is not remembered")
	}
	c.forget("bill_a")
	if c.seen("bill_a") {
		t.Fatal("a bill forgotten is still remembered")
	}

	c.see("bill_busy")
	for i := 0; i < 2*keepClaimsSeen; i++ {
		c.see(fmt.Sprintf("bill_%d", i))
		if !c.seen("bill_busy") {
			t.Fatalf("the bill in use was pushed out by %d others", i+1)
		}
		if n := c.bills.Len(); n > keepClaimsSeen {
			t.Fatalf("%d bills remembered, more than %d", n, keepClaimsSeen)
		}
	}
	if c.seen("bill_0") {
		t.Fatal("the first of the others, not used since, is still remembered")
	}
}
