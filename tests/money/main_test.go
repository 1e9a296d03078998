// Package money is FinFlow's money suite on a real topology: a wallet
// hammered by concurrent debits and credits through its sidecar, hundreds
// of concurrent payments (retries with one Idempotency-Key, races on one
// bill) with every money invariant checked afterwards, and services killed
// while payments are in flight.
package money

import (
	"fmt"
	"os"
	"testing"

	"github.com/finflow/finflow/tests/harness"
)

var env *harness.Env

func TestMain(m *testing.M) {
	var err error
	// Recovery runs every 500 ms for payments older than 2 s, so that the
	// crash test settles quickly; the rules are the same as by default.
	env, err = harness.Start(harness.Options{Name: "money", CheckContract: true, Settings: map[string]int64{
		"payments.recovery.interval_ms": 500,
		"payments.recovery.min_age_ms":  2000,
		"payments.step_timeout_ms":      3000,
	}})
	if err != nil {
		fmt.Fprintf(os.Stderr, "money: %v\n", err)
		os.Exit(1)
	}
	os.Exit(env.Finish("money", m.Run()))
}
