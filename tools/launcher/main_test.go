package main

import (
	"testing"

	"github.com/finflow/finflow/tools/launcher/runfile"
)

func TestOpenSidecarAPIs(t *testing.T) {
	dev := &runfile.File{Apps: []runfile.App{{AppID: "gateway", Env: map[string]string{"FINFLOW_DEV_MODE": "true"}}, {AppID: "user"}}}
	prod := &runfile.File{Apps: []runfile.App{{AppID: "gateway"}, {AppID: "user"}}}
	cases := []struct {
		name    string
		mode    string
		rf      *runfile.File
		want    bool
		wantErr bool
	}{
		{"auto, dev mode: open, as dapr run -f", "auto", dev, true, false},
		{"auto, no dev mode: tokens", "auto", prod, false, false},
		{"on wins over dev mode", "on", dev, false, false},
		{"off opens any run", "off", prod, true, false},
		{"anything else is refused", "yes", dev, false, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := openSidecarAPIs(c.mode, c.rf)
			if got != c.want || (err != nil) != c.wantErr {
				t.Fatalf("openSidecarAPIs(%q) = %v, %v; want %v, error %v", c.mode, got, err, c.want, c.wantErr)
			}
		})
	}
}
