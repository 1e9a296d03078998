// Package e2e is FinFlow's end-to-end suite for the platform and the user
// service: every request goes through the gateway of a real topology (real
// daprd sidecars, real Redis, the launcher) started by tests/harness.
package e2e

import (
	"fmt"
	"os"
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
	os.Exit(env.Finish("e2e", m.Run()))
}
