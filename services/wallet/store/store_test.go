package store_test

import (
	"testing"

	"github.com/finflow/finflow/platform/sidecar"
	"github.com/finflow/finflow/platform/sidecar/sidecartest"
	"github.com/finflow/finflow/services/wallet/store"
	"github.com/finflow/finflow/services/wallet/store/storetest"
)

func TestStoreContractInMemory(t *testing.T) {
	storetest.Run(t, func(_ testing.TB, n int) []*store.Store {
		mem := sidecartest.NewMemState()
		out := make([]*store.Store, n)
		for i := range out {
			out[i] = store.New(mem, "wallet-store")
		}
		return out
	})
}

// The same contract with every store keeping its own cache of wallet
// documents, as processes do: copies go stale when another store writes,
// and nothing may be lost or applied twice because of it.
func TestStoreContractCached(t *testing.T) {
	storetest.Run(t, func(_ testing.TB, n int) []*store.Store {
		mem := sidecartest.NewMemState()
		out := make([]*store.Store, n)
		for i := range out {
			out[i] = store.New(mem, "wallet-store").WithCache(sidecar.NewCache(mem, "wallet-store", "memory", 64))
		}
		return out
	})
}
