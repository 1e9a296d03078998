package deploy

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"

	"gopkg.in/yaml.v3"
)

// Every resiliency policy FinFlow ships has a target for each app with
// no policy in it. The target turns off Dapr 1.14's built-in invocation
// retry, which would replay calls that may have arrived; a retry policy
// would do the same, and the services' sidecar client resends only calls
// Dapr reports as never sent, which it can tell only while Dapr sends each
// call once (platform/sidecar, notSent). A timeout would make Dapr run the
// call on a goroutine that can write the answer after the handler returned
// and crash the sidecar (dapr/dapr#10371); the client bounds calls itself.
func TestAppTargetsAreEmpty(t *testing.T) {
	root := composeLoad(t).root
	files := []string{
		"components/resiliency.yaml",
		"profiles/postgres/components/resiliency.yaml",
		"deploy/compose/components/resiliency.yaml",
		"deploy/kubernetes/dapr-resiliency.yaml",
	}
	for _, f := range files {
		raw, err := os.ReadFile(filepath.Join(root, f))
		if err != nil {
			t.Fatal(err)
		}
		found := 0
		dec := yaml.NewDecoder(bytes.NewReader(raw))
		for {
			var doc struct {
				Kind string `yaml:"kind"`
				Spec struct {
					Targets struct {
						Apps map[string]map[string]any `yaml:"apps"`
					} `yaml:"targets"`
				} `yaml:"spec"`
			}
			err := dec.Decode(&doc)
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				t.Fatalf("%s: %v", f, err)
			}
			if doc.Kind != "Resiliency" {
				continue
			}
			found++
			for _, app := range []string{"gateway", "user", "wallet", "billing", "payment", "razorpay"} {
				policy, ok := doc.Spec.Targets.Apps[app]
				if !ok {
					t.Errorf("%s: no target for app %s; without one Dapr's built-in retry replays calls to it", f, app)
				}
				if len(policy) != 0 {
					t.Errorf("%s: app target %s has %v; it must be empty", f, app, policy)
				}
			}
		}
		if found == 0 {
			t.Errorf("%s: no Resiliency resource", f)
		}
	}
}
