package topology

import "strings"

// Garbage collection for every app and sidecar the launcher starts, unless
// its own environment (or the run's ExtraEnv) sets the variable: a heap
// grows to five times what is live before a collection instead of twice,
// and each process collects harder as its heap nears the soft limit, so
// that memory stays bounded. Measured with `make bench` (docs/performance.md,
// "Garbage collection"): daprd and the apps allocate per request, and at
// Go's default of 100 the collector's share of a payment's CPU is large.
const (
	DefaultGOGC       = "400"
	DefaultGOMEMLIMIT = "512MiB"
)

// gcEnv returns the garbage-collection settings to add to environ: each of
// GOGC and GOMEMLIMIT at its default when environ does not set it.
func gcEnv(environ []string) []string {
	var out []string
	for _, kv := range [][2]string{{"GOGC", DefaultGOGC}, {"GOMEMLIMIT", DefaultGOMEMLIMIT}} {
		if !hasVar(environ, kv[0]) {
			out = append(out, kv[0]+"="+kv[1])
		}
	}
	return out
}

// hasVar reports whether environ sets name (to anything, even empty).
func hasVar(environ []string, name string) bool {
	for _, e := range environ {
		if strings.HasPrefix(e, name+"=") {
			return true
		}
	}
	return false
}
