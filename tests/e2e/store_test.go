package e2e

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/finflow/finflow/platform/sidecar"
	"github.com/finflow/finflow/services/user/store"
	"github.com/finflow/finflow/services/user/store/storetest"
)

// The user store's contract suite, run against the real user sidecar and
// Redis of the topology (the unit tests run it against an in-memory state).
// Each case gets its own key prefix, so it starts empty.
func TestUserStoreContractThroughRealSidecar(t *testing.T) {
	t.Parallel()
	a := env.Topology.App("user")
	ctx := context.Background()
	dc, err := sidecar.Connect(ctx, sidecar.Config{HTTPPort: a.DaprHTTPPort, GRPCPort: a.DaprGRPCPort, APIToken: a.APIToken})
	if err != nil {
		t.Fatalf("connecting to the user sidecar: %v", err)
	}
	t.Cleanup(dc.Close)
	var n atomic.Int64
	storetest.Run(t, func(testing.TB) *store.Store {
		return store.NewPrefixed(dc, "user-store", fmt.Sprintf("contract-%d-%d/", n.Add(1), a.DaprHTTPPort))
	})
}
