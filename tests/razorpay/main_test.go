// Package razorpay is FinFlow's Razorpay suite on a real topology with the
// gateway simulator: captured, failed, duplicated and out-of-order webhooks,
// forged and missing signatures, lost webhooks settled by reconciliation,
// late authorisation, the payment service stopped while webhooks arrive,
// and money conservation with Razorpay payments in the mix.
package razorpay

import (
	"fmt"
	"math/rand/v2"
	"os"
	"testing"

	"github.com/finflow/finflow/tests/harness"
)

var env *harness.Env

func TestMain(m *testing.M) {
	var err error
	// Reconciliation asks the gateway about payments PENDING for 2 s, every
	// 500 ms, and unpaid orders expire after 12 s, so the suite runs in
	// seconds; the rules are the same as with the defaults.
	env, err = harness.Start(harness.Options{Name: "razorpay", CheckContract: true, Settings: map[string]int64{
		"payments.reconcile.interval_ms":      500,
		"payments.reconcile.after_ms":         2000,
		"payments.razorpay.order_lifetime_ms": 12000,
		// The watch of orders looks at a payment that ended a second after
		// it was made, then at a quarter of the time elapsed.
		"payments.razorpay.watch_first_ms": 1000,
		"payments.recovery.interval_ms":    500,
		"payments.recovery.min_age_ms":     2000,
		// Gateway work Razorpay does not answer is retried after 200 ms,
		// 400 ms, ... and parked after 5 tries.
		"payments.gateway.retry_base_ms": 200,
		"payments.gateway.retry_max_ms":  2000,
		"payments.gateway.max_attempts":  5,
	}})
	if err != nil {
		fmt.Fprintf(os.Stderr, "razorpay: %v\n", err)
		os.Exit(1)
	}
	os.Exit(env.Finish("razorpay", m.Run()))
}

// newBill makes a user with a wallet of funds and a bill of amount.
func newBill(t *testing.T, funds, amount int64) (harness.Account, harness.Bill) {
	t.Helper()
	u := env.MustCreateUser(t, "Razorpay Payer", fmt.Sprintf("rzp.%d@example.in", rand.Int64()))
	env.MustCreateWallet(t, u.ID)
	if funds > 0 {
		env.MustTopUp(t, u.ID, funds, "")
	}
	b := env.MustCreateBill(t, u.ID, amount)
	return harness.Account{UserID: u.ID, TopUps: funds, Bills: []string{b.ID}}, b
}
