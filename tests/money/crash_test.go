package money

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/finflow/finflow/tools/launcher/topology"
)

// Services and sidecars are killed (SIGKILL) and restarted while payments
// are in flight. Clients retry with their Idempotency-Key as a careful client
// would. Afterwards every payment is SUCCESS or FAILED, every bill is paid
// exactly once and every money invariant holds.
func TestCrashWhilePaying(t *testing.T) {
	accounts := setupAccounts(t, "crash", 4, 12, func(int) int64 { return 200000 })

	// The outages run while the payments are sent, spread over them.
	ctx := context.Background()
	chaos := []struct {
		app   string
		which topology.Which
	}{
		{"wallet", topology.AppProcess},
		{"billing", topology.SidecarProcess},
		{"payment", topology.AppProcess},
		{"wallet", topology.SidecarProcess},
	}
	chaosDone := make(chan error, 1)
	// Every instance of the app goes down: an outage of the service. (On
	// the replica topology, FINFLOW_REPLICAS=2, a twin would otherwise
	// absorb it; tests/replicas kills one instance while its twin serves.)
	go func() {
		for _, c := range chaos {
			time.Sleep(700 * time.Millisecond)
			for _, a := range env.Topology.Instances(c.app) {
				if err := env.Topology.Kill(a.Instance, c.which); err != nil {
					chaosDone <- err
					return
				}
			}
			time.Sleep(1500 * time.Millisecond)
			for _, a := range env.Topology.Instances(c.app) {
				if err := env.Topology.Restart(ctx, a.Instance, c.which); err != nil {
					chaosDone <- fmt.Errorf("restarting %s %s: %w", a.Instance, c.which, err)
					return
				}
			}
		}
		chaosDone <- nil
	}()

	var mu sync.Mutex
	var ids []string
	answers := map[int]int{}
	disturbed := 0
	var wg sync.WaitGroup
	for _, acc := range accounts {
		for _, bill := range acc.Bills {
			wg.Add(1)
			go func(bill string) {
				defer wg.Done()
				out := payWithKey(t, bill, "crash-"+bill, 90*time.Second)
				mu.Lock()
				defer mu.Unlock()
				answers[out.status]++
				if out.retries > 0 || out.status == http.StatusAccepted {
					disturbed++
				}
				if out.paymentID != "" {
					ids = append(ids, out.paymentID)
				}
			}(bill)
			time.Sleep(180 * time.Millisecond) // 48 payments over about 9 s of outages
		}
	}
	if err := <-chaosDone; err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	t.Logf("answers by status: %v; %d payments met an outage (202 or a retried 5xx)", answers, disturbed)
	for status := range answers {
		if status != http.StatusCreated && status != http.StatusAccepted {
			t.Errorf("%d answers %d: funded users' payments must end 201 or 202", answers[status], status)
		}
	}
	if disturbed == 0 {
		t.Fatalf("no payment met an outage: the crash test did not test anything")
	}

	env.WaitFinal(t, ids, 90*time.Second)
	env.AuditMoney(t, accounts)
	paid := 0
	for _, acc := range accounts {
		for _, bill := range acc.Bills {
			if b := env.MustBill(t, bill); b.Status == "PAID" {
				paid++
			} else {
				t.Errorf("bill %s is %s after recovery", bill, b.Status)
			}
		}
	}
	if paid != 48 {
		t.Fatalf("%d of 48 bills paid", paid)
	}
	t.Logf("%d payments, all final, 48 bills paid once", len(unique(ids)))
}
