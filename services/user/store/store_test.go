package store_test

import (
	"context"
	"testing"

	"github.com/finflow/finflow/platform/sidecar/sidecartest"
	"github.com/finflow/finflow/services/user/store"
	"github.com/finflow/finflow/services/user/store/storetest"
)

// The contract suite against an in-memory state with Redis's ETag rules. The
// same suite runs against a real sidecar and Redis in the integration test.
func TestStoreContractInMemory(t *testing.T) {
	storetest.Run(t, func(tb testing.TB) *store.Store {
		return store.New(sidecartest.NewMemState(), "user-store")
	})
}

func TestRepairAfterHalfFinishedSignUp(t *testing.T) {
	ctx := context.Background()
	mem := sidecartest.NewMemState()
	s := store.New(mem, "user-store")
	storetest.CheckRepair(t, ctx, s, mem)
}
