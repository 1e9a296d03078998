package topology

import (
	"slices"
	"testing"
)

func TestGCEnv(t *testing.T) {
	for _, tc := range []struct {
		name    string
		environ []string
		want    []string
	}{
		{"neither set", []string{"PATH=/bin"}, []string{"GOGC=400", "GOMEMLIMIT=512MiB"}},
		{"GOGC set", []string{"GOGC=100"}, []string{"GOMEMLIMIT=512MiB"}},
		{"GOGC off", []string{"GOGC=off", "GOMEMLIMIT=2GiB"}, nil},
		{"set empty", []string{"GOGC=", "GOMEMLIMIT="}, nil},
		{"a longer name is not the variable", []string{"GOGCX=1", "MY_GOGC=1"}, []string{"GOGC=400", "GOMEMLIMIT=512MiB"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := gcEnv(tc.environ); !slices.Equal(got, tc.want) {
				t.Errorf("gcEnv(%q) = %q, want %q", tc.environ, got, tc.want)
			}
		})
	}
}
