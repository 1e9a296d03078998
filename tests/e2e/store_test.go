package e2e

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/finflow/finflow/platform/sidecar"
	"github.com/finflow/finflow/services/user/store"
	"github.com/finflow/finflow/services/user/store/storetest"
	walletstore "github.com/finflow/finflow/services/wallet/store"
	walletstoretest "github.com/finflow/finflow/services/wallet/store/storetest"
)

// connectTo connects to the sidecar of the topology's app.
func connectTo(t *testing.T, app string) *sidecar.Client {
	t.Helper()
	a := env.Topology.App(app)
	dc, err := sidecar.Connect(context.Background(), sidecar.Config{HTTPPort: a.DaprHTTPPort, GRPCPort: a.DaprGRPCPort, APIToken: a.APIToken})
	if err != nil {
		t.Fatalf("connecting to the %s sidecar: %v", app, err)
	}
	t.Cleanup(dc.Close)
	return dc
}

// The user store's contract suite, run against the real user sidecar and
// Redis of the topology (the unit tests run it against an in-memory state).
// Each case gets its own key prefix, so it starts empty.
func TestUserStoreContractThroughRealSidecar(t *testing.T) {
	t.Parallel()
	dc := connectTo(t, "user")
	port := env.Topology.App("user").DaprHTTPPort
	var n atomic.Int64
	storetest.Run(t, func(testing.TB) *store.Store {
		return store.NewPrefixed(dc, "user-store", fmt.Sprintf("contract-%d-%d/", n.Add(1), port))
	})
}

// The wallet store's contract suite against the real wallet sidecar and
// its state store, with the stores of a case each keeping its own cache,
// as the wallet service's processes do (every case uses wallets of its
// own, so they start empty).
func TestWalletStoreContractThroughRealSidecar(t *testing.T) {
	t.Parallel()
	dc := connectTo(t, "wallet")
	walletstoretest.Run(t, func(_ testing.TB, n int) []*walletstore.Store {
		out := make([]*walletstore.Store, n)
		for i := range out {
			out[i] = walletstore.New(dc, "wallet-store").WithCache(dc.Cached(context.Background(), "wallet-store", 64))
		}
		return out
	})
}
