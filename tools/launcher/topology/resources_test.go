package topology

import (
	"strings"
	"testing"
)

func TestOverrideMetadata(t *testing.T) {
	const comps = `apiVersion: dapr.io/v1alpha1
kind: Component
metadata:
  name: wallet-store
spec:
  type: state.postgresql
  version: v2
  metadata:
    - name: connectionString
      value: host=localhost dbname=finflow
---
apiVersion: dapr.io/v1alpha1
kind: Component
metadata:
  name: finflow-pubsub
spec:
  type: pubsub.rabbitmq
  version: v1
  metadata:
    - name: connectionString
      value: amqp://localhost:5672/
    - name: redisHost
      value: localhost:6379
`
	cases := []struct {
		name      string
		overrides []MetadataOverride
		want      []string
		wantNot   []string
	}{
		{"by type: only that component's item",
			[]MetadataOverride{{Type: "state.postgresql", Name: "connectionString", Value: "host=db dbname=t1"}},
			[]string{"value: host=db dbname=t1", "value: amqp://localhost:5672/"}, []string{"dbname=finflow"}},
		{"two types with the same item name",
			[]MetadataOverride{{Type: "state.postgresql", Name: "connectionString", Value: "pg"}, {Type: "pubsub.rabbitmq", Name: "connectionString", Value: "amqp"}},
			[]string{"value: pg", "value: amqp"}, []string{"dbname=finflow", "5672"}},
		{"no type: every component with the item",
			[]MetadataOverride{{Name: "redisHost", Value: "127.0.0.1:7000"}},
			[]string{"value: 127.0.0.1:7000", "dbname=finflow"}, []string{"localhost:6379"}},
		{"an item no component has is not added",
			[]MetadataOverride{{Name: "tablePrefix", Value: "x_"}},
			nil, []string{"tablePrefix"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			out, err := overrideMetadata([]byte(comps), tc.overrides)
			if err != nil {
				t.Fatal(err)
			}
			for _, w := range tc.want {
				if !strings.Contains(string(out), w) {
					t.Errorf("rendered lacks %q:\n%s", w, out)
				}
			}
			for _, w := range tc.wantNot {
				if strings.Contains(string(out), w) {
					t.Errorf("rendered still has %q:\n%s", w, out)
				}
			}
		})
	}
}
