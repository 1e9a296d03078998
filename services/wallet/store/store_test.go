package store_test

import (
	"testing"

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
