// Package postman runs the Postman collection in postman/ with newman (from
// the npm registry, pinned in tools/newman) against a real topology, so the
// collection users import keeps working.
package postman

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/finflow/finflow/tests/harness"
)

func TestCollectionWithNewman(t *testing.T) {
	env, err := harness.Start(harness.Options{Name: "postman"})
	if err != nil {
		t.Fatal(err)
	}
	defer env.Stop()
	newman := filepath.Join(env.Root, "tools", "newman", "node_modules", ".bin", "newman")
	if _, err := os.Stat(newman); err != nil {
		t.Fatalf("newman is not installed: run `make newman` (npm ci in tools/newman; needs Node.js and npm): %v", err)
	}
	report := filepath.Join(env.LogDir, "newman.json")
	cmd := exec.Command(newman, "run", filepath.Join(env.Root, "postman", "finflow.postman_collection.json"),
		"-e", filepath.Join(env.Root, "postman", "local.postman_environment.json"),
		"--env-var", "baseUrl="+env.BaseURL, "--env-var", "simUrl="+env.SimURL(),
		"--reporters", "cli,json", "--reporter-json-export", report, "--color", "off", "--timeout-request", "15000")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("newman failed (%v):\n%s", err, out)
	}
	var run struct {
		Run struct {
			Stats struct {
				Requests, Assertions struct {
					Total, Failed int
				}
			}
			Failures []any
		}
	}
	raw, err := os.ReadFile(report)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(raw, &run); err != nil {
		t.Fatalf("newman's report: %v", err)
	}
	s := run.Run.Stats
	if s.Assertions.Failed != 0 || len(run.Run.Failures) != 0 || s.Requests.Failed != 0 {
		t.Fatalf("newman: %d of %d assertions failed, %d failures:\n%s", s.Assertions.Failed, s.Assertions.Total, len(run.Run.Failures), out)
	}
	// Every request of the collection has at least one assertion.
	if s.Assertions.Total < 25 || s.Requests.Total < 25 {
		t.Fatalf("newman ran %d requests with %d assertions; the collection has more", s.Requests.Total, s.Assertions.Total)
	}
	fmt.Fprintf(os.Stderr, "newman: %d requests, %d assertions, all passed\n", s.Requests.Total, s.Assertions.Total)
}
