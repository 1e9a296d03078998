// Package e2e is FinFlow's end-to-end suite for the platform and the user
// service: every request goes through the gateway of a real topology (real
// daprd sidecars, real Redis, the launcher) started by tests/harness.
package e2e

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
	env, err = harness.Start(harness.Options{Name: "e2e", CheckContract: true})
	if err != nil {
		fmt.Fprintf(os.Stderr, "e2e: %v\n", err)
		os.Exit(1)
	}
	code := m.Run()
	// Every exchange of the suite must agree with GET /openapi.json.
	if violations, checked := env.ContractViolations(); len(violations) > 0 {
		fmt.Fprintf(os.Stderr, "e2e: %d of %d exchanges disagree with /openapi.json:\n  %s\n", len(violations), checked, strings.Join(violations, "\n  "))
		code = 1
	}
	// No secret or token may appear in any log line of the run.
	if leaks := env.SecretsInLogs(); len(leaks) > 0 {
		fmt.Fprintf(os.Stderr, "secrets found in the logs: %v\n", leaks)
		code = 1
	}
	if code != 0 {
		fmt.Fprintf(os.Stderr, "e2e: failed; logs in %s; console tail:\n%s\n", env.LogDir, env.ConsoleTail(40))
	}
	env.Stop()
	os.Exit(code)
}
