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

// No resiliency policy FinFlow ships retries calls to an app. Dapr 1.14
// would replay every failed answer (409 and 422 included) of calls that
// are not idempotent, and the services' sidecar client resends only calls
// Dapr reports as never sent, which it can tell only while Dapr itself
// sends each call once (platform/sidecar, notSent).
func TestNoRetriesOnAppTargets(t *testing.T) {
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
			if len(doc.Spec.Targets.Apps) == 0 {
				t.Errorf("%s: no app targets; without a policy Dapr's built-in retry replays calls", f)
			}
			for app, policy := range doc.Spec.Targets.Apps {
				if _, ok := policy["retry"]; ok {
					t.Errorf("%s: app target %s has a retry policy", f, app)
				}
				if _, ok := policy["timeout"]; !ok {
					t.Errorf("%s: app target %s has no timeout", f, app)
				}
			}
		}
		if found == 0 {
			t.Errorf("%s: no Resiliency resource", f)
		}
	}
}
