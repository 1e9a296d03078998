package store_test

import (
	"testing"

	"github.com/finflow/finflow/platform/listindex"
	"github.com/finflow/finflow/services/payment/domain"
)

// The domain reads a user's list in stretches the list index serves in one
// read of its head and one bulk read of its pages: the two sizes must agree,
// or a stretch would cost more round trips than ListPayments documents.
func TestListStretchIsTheIndexPage(t *testing.T) {
	if domain.ListStretch != listindex.PageSize {
		t.Fatalf("domain.ListStretch = %d, listindex.PageSize = %d", domain.ListStretch, listindex.PageSize)
	}
}
