// Package replicas is FinFlow with two instances of every app but razorpay,
// on two hosts (network namespaces joined by a veth pair; self-hosted Dapr,
// mDNS across them), the gateways behind a round-robin balancer: what only
// several instances can get wrong. Two billing schedulers tick at once and
// each subscription's period is billed and autopaid once; a payment
// instance killed mid-flight leaves its work to its twin's recovery loop,
// nothing settled twice; one rate-limit budget across both gateways; a
// console session made on one gateway works, and ends, on the other. The
// money and Razorpay suites run on the same topology with
// FINFLOW_REPLICAS=2 (make test does both). The suite fails when its work
// did not reach both instances of every replicated app, or no call crossed
// hosts to an app's sidecars (harness.Env.Replicas).
package replicas

import (
	"fmt"
	"os"
	"testing"

	"github.com/finflow/finflow/tests/harness"
)

var env *harness.Env

// userPerMinute is the rate limit of one user's requests in this suite:
// low, so that the shared budget shows, and far above what any other test
// here sends as one user.
const userPerMinute = 40

func TestMain(m *testing.M) {
	if p := harness.Profile(); p != harness.ProfileRedis {
		// Said, not skipped in silence: `make test` runs it on Redis.
		fmt.Fprintf(os.Stderr, "replicas: not run with PROFILE=%s: the replica topology runs on the redis profile only (the PostgreSQL and RabbitMQ of this machine are outside the suite's network namespace); make test runs it\n", p)
		os.Exit(0)
	}
	var err error
	env, err = harness.Start(harness.Options{Name: "replicas", Replicas: 2, CheckContract: true, Settings: map[string]int64{
		// Recovery every 500 ms for payments older than 2 s, so that a twin
		// finishes a killed instance's payments in seconds.
		"payments.recovery.interval_ms":     500,
		"payments.recovery.min_age_ms":      2000,
		"payments.step_timeout_ms":          3000,
		"gateway.ratelimit.user_per_minute": userPerMinute,
	}})
	if err != nil {
		fmt.Fprintf(os.Stderr, "replicas: %v\n", err)
		os.Exit(1)
	}
	os.Exit(env.Finish("replicas", m.Run()))
}
