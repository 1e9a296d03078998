// Package tests holds FinFlow's black-box suites: end to end through the
// gateway against the real topology (real daprd sidecars, real Redis, the
// launcher). The harness in tests/harness is shared by every suite.
package tests
