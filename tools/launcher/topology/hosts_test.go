package topology

import (
	"reflect"
	"testing"
)

func TestHostPlacement(t *testing.T) {
	b := &Host{Name: "b", IP: "10.99.0.2", NetNS: "/proc/42/ns/net"}
	for _, tc := range []struct {
		name      string
		host      *Host
		wantReach string
		wantArgv  []string
	}{
		{"no hosts: loopback", nil, "127.0.0.1:8080", []string{"daprd", "--app-id", "x"}},
		{"the launcher's own host: loopback", &Host{Name: "a", IP: "10.99.0.1"}, "127.0.0.1:8080", []string{"daprd", "--app-id", "x"}},
		{"another host: its address, in its namespace", b, "10.99.0.2:8080",
			[]string{"nsenter", "--net=/proc/42/ns/net", "--", "daprd", "--app-id", "x"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := &App{Host: tc.host}
			if got := a.Reach(8080); got != tc.wantReach {
				t.Errorf("Reach(8080) = %q, want %q", got, tc.wantReach)
			}
			if got := tc.host.wrap([]string{"daprd", "--app-id", "x"}); !reflect.DeepEqual(got, tc.wantArgv) {
				t.Errorf("wrap = %q, want %q", got, tc.wantArgv)
			}
		})
	}
}

func TestSetFlag(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
		want []string
	}{
		{"replaced", []string{"--app-id", "x", "--dapr-listen-addresses", "127.0.0.1"}, []string{"--app-id", "x", "--dapr-listen-addresses", "127.0.0.1,10.99.0.2"}},
		{"added", []string{"--app-id", "x"}, []string{"--app-id", "x", "--dapr-listen-addresses", "127.0.0.1,10.99.0.2"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := setFlag(tc.args, "--dapr-listen-addresses", "127.0.0.1,10.99.0.2"); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("setFlag = %q, want %q", got, tc.want)
			}
		})
	}
}
