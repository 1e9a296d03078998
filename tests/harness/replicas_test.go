package harness

import (
	"reflect"
	"strings"
	"testing"
)

func TestSpreadProblems(t *testing.T) {
	instances := []Instance{
		{Name: "gateway", App: "gateway", Host: "a"}, {Name: "gateway-2", App: "gateway", Host: "b"},
		{Name: "wallet", App: "wallet", Host: "a"}, {Name: "wallet-2", App: "wallet", Host: "b"},
		{Name: "razorpay", App: "razorpay", Host: "a"},
	}
	all := map[string]int64{"gateway": 50, "gateway-2": 50, "wallet": 30, "wallet-2": 40, "razorpay": 10}
	without := func(m map[string]int64, name string) map[string]int64 {
		out := map[string]int64{}
		for k, v := range m {
			if k != name {
				out[k] = v
			}
		}
		return out
	}
	for _, tc := range []struct {
		name        string
		work, cross map[string]int64
		want        []string // substrings, one a problem
	}{
		{"spread and crossed", all, all, nil},
		{"one gateway did all the work", without(all, "gateway-2"), all, []string{"gateway-2 (host b) served no request"}},
		{"a twin got nothing", without(all, "wallet"), all, []string{"wallet (host a) served no request"}},
		{"nothing crossed to a wallet", all, without(all, "wallet-2"), []string{"wallet-2's sidecar (host b) received 0 packets"}},
		{"a stray connection is no crossing", all, map[string]int64{"wallet": 30, "wallet-2": MinCrossHostPackets - 1}, []string{"wallet-2's sidecar (host b) received 9 packets"}},
		{"gateways are not called across", all, without(without(all, "gateway"), "gateway-2"), nil},
		{"razorpay runs once: neither a twin nor a crossing asked of it", without(all, "razorpay"), without(all, "razorpay"), nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := SpreadProblems(instances, tc.work, tc.cross)
			if len(got) != len(tc.want) {
				t.Fatalf("SpreadProblems = %q, want %d problems like %q", got, len(tc.want), tc.want)
			}
			for i, w := range tc.want {
				if !strings.Contains(got[i], w) {
					t.Errorf("problem %d = %q, want it to say %q", i, got[i], w)
				}
			}
		})
	}
}

func TestMergeMetrics(t *testing.T) {
	a := "# HELP x_total X.\n# TYPE x_total counter\nx_total{route=\"/a\"} 2\nx_total{route=\"/b\"} 1\n"
	b := "# HELP x_total X.\n# TYPE x_total counter\nx_total{route=\"/a\"} 3\nx_total{route=\"/c\"} 4\n"
	want := "# HELP x_total X.\n# TYPE x_total counter\nx_total{route=\"/a\"} 5\nx_total{route=\"/b\"} 1\nx_total{route=\"/c\"} 4\n"
	if got := string(mergeMetrics([][]byte{[]byte(a), []byte(b)})); !reflect.DeepEqual(got, want) {
		t.Fatalf("mergeMetrics = %q, want %q", got, want)
	}
}

func TestPlumbingRoute(t *testing.T) {
	for _, tc := range []struct {
		route string
		want  bool
	}{
		{"/healthz", true}, {"/readyz", true}, {"/health", true}, {"/billing-schedule", true},
		{"/dapr/subscribe", true}, {"/dapr/config", true}, {"", true}, {"unmatched", true},
		{"/Payment/pay", false}, {"/wallet/balance/:userId", false}, {"/console", false}, {"/healthcheck", false},
	} {
		if got := plumbingRoute(tc.route); got != tc.want {
			t.Errorf("plumbingRoute(%q) = %v, want %v", tc.route, got, tc.want)
		}
	}
}
