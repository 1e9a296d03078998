package razorpay

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/finflow/finflow/tests/harness"
	"github.com/finflow/finflow/tools/launcher/topology"
)

// The payment service is stopped while webhooks arrive: the razorpay
// service still verifies and publishes them (Razorpay gets its 2xx), and
// once the payment service is back every result is applied, once.
func TestPaymentServiceDownWhileWebhooksArrive(t *testing.T) {
	const n = 6
	var accounts []*harness.Account
	var payments []harness.Payment
	for i := 0; i < n; i++ {
		acc, bill := newBill(t, 0, int64(1000+i))
		accounts = append(accounts, &acc)
		payments = append(payments, env.MustPayRazorpay(t, bill.ID))
	}
	if err := env.Topology.Kill("payment", topology.AppProcess); err != nil {
		t.Fatal(err)
	}
	restarted := false
	t.Cleanup(func() {
		if !restarted {
			_ = env.Topology.Restart(context.Background(), "payment", topology.AppProcess)
		}
	})
	for i, p := range payments {
		outcome := "captured"
		if i%3 == 2 {
			outcome = "failed"
		}
		env.SimPay(t, p.Razorpay.OrderID, outcome, 1, true)
	}
	// The webhooks are accepted while the payment service is down.
	harness.WaitFor(t, 20*time.Second, "every webhook accepted", func() bool {
		for _, p := range payments {
			accepted := 0
			for _, d := range env.SimDeliveries(t, p.Razorpay.OrderID) {
				if d.Status == 200 {
					accepted++
				}
			}
			if accepted == 0 {
				return false
			}
		}
		return true
	})
	if env.Topology.Running("payment", topology.AppProcess) {
		t.Fatalf("the payment service came back by itself: the outage did not happen")
	}
	if err := env.Topology.Restart(context.Background(), "payment", topology.AppProcess); err != nil {
		t.Fatal(err)
	}
	restarted = true
	for i, p := range payments {
		want := "SUCCESS"
		if i%3 == 2 {
			want = "FAILED"
		}
		got := env.WaitPayment(t, p.ID, 30*time.Second, want, func(q harness.Payment) bool { return q.Status != "PENDING" })
		if got.Status != want || got.Refund != nil || got.SettledBy != nil {
			t.Errorf("payment %d = %s (refund %v, settled by %v), want plain %s", i, got.Status, got.Refund, got.SettledBy, want)
		}
	}
	env.AuditMoney(t, accounts)
}

// Wallet and Razorpay payments, concurrent and racing on the same bills:
// money is conserved and a bill paid through Razorpay never touches the
// wallet.
func TestConservationWithRazorpay(t *testing.T) {
	t.Parallel()
	var accounts []*harness.Account
	var bills []string
	for i := 0; i < 4; i++ {
		u := env.MustCreateUser(t, "Mixed", fmt.Sprintf("mixed.%d.%d@example.in", i, rand.Int64()))
		env.MustCreateWallet(t, u.ID)
		env.MustTopUp(t, u.ID, 30000, fmt.Sprintf("mixed-topup-%s", u.ID))
		acc := &harness.Account{UserID: u.ID, TopUps: 30000}
		for j := 0; j < 5; j++ {
			b := env.MustCreateBill(t, u.ID, int64(1000+rand.IntN(4000)))
			acc.Bills = append(acc.Bills, b.ID)
			bills = append(bills, b.ID)
		}
		accounts = append(accounts, acc)
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	var razorpayIDs []string
	for i, bill := range bills {
		wg.Add(2)
		go func() { // a wallet payment
			defer wg.Done()
			env.Do(t, "POST", "/Payment/pay", map[string]any{"bill_id": bill}, nil)
		}()
		go func(i int) { // and a Razorpay payment, racing for the same bill
			defer wg.Done()
			r := env.Do(t, "POST", "/Payment/rozarpay", map[string]any{"bill_id": bill}, nil)
			if r.Status != 201 {
				return // the wallet payment had the bill
			}
			var p harness.Payment
			r.JSON(t, &p)
			if p.Status != "PENDING" {
				return
			}
			outcome := "captured"
			if i%4 == 3 {
				outcome = "failed"
			}
			env.SimPay(t, p.Razorpay.OrderID, outcome, 1, true)
			mu.Lock()
			razorpayIDs = append(razorpayIDs, p.ID)
			mu.Unlock()
		}(i)
	}
	wg.Wait()
	env.WaitFinal(t, razorpayIDs, 30*time.Second)
	env.AuditMoney(t, accounts)
	t.Logf("%d bills, %d Razorpay payments", len(bills), len(razorpayIDs))
}
