// Package money is FinFlow's money suite on a real topology: a wallet
// hammered by concurrent debits and credits through its sidecar, hundreds
// of concurrent payments (retries with one Idempotency-Key, races on one
// bill) with every money invariant checked afterwards, and services killed
// while payments are in flight.
package money

import (
	"fmt"
	"os"
	"strings"
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
	code := m.Run()
	// Every exchange of the suite must agree with GET /openapi.json.
	if violations, checked := env.ContractViolations(); len(violations) > 0 {
		fmt.Fprintf(os.Stderr, "money: %d of %d exchanges disagree with /openapi.json:\n  %s\n", len(violations), checked, strings.Join(violations, "\n  "))
		code = 1
	}
	// No secret or token may appear in any log line of the run.
	if leaks := env.SecretsInLogs(); len(leaks) > 0 {
		fmt.Fprintf(os.Stderr, "secrets found in the logs: %v\n", leaks)
		code = 1
	}
	if code != 0 {
		fmt.Fprintf(os.Stderr, "money: failed; logs in %s; console tail:\n%s\n", env.LogDir, env.ConsoleTail(40))
	}
	env.Stop()
	os.Exit(code)
}
