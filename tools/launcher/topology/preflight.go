package topology

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// DaprdVersion runs `daprd --version` and returns what it prints.
func DaprdVersion(path string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, path, "--version").Output()
	if err != nil {
		return "", fmt.Errorf("running %s --version: %w", path, err)
	}
	return strings.TrimSpace(string(out)), nil
}

// CheckDaprd makes sure path is a daprd of the 1.14 line.
func CheckDaprd(path string) error {
	if path == "" {
		return fmt.Errorf("no daprd found: run `make daprd` (it builds Dapr 1.14.0's daprd from the Go module proxy), or install the Dapr CLI and run `dapr init`")
	}
	v, err := DaprdVersion(path)
	if err != nil {
		return err
	}
	if !strings.HasPrefix(v, "1.14.") {
		return fmt.Errorf("%s is daprd %q; FinFlow needs 1.14.x (run `make daprd`)", path, v)
	}
	return nil
}

// FindDaprd returns the daprd to use: $DAPRD, then <root>/.bin/daprd (what
// `make daprd` provides), then ~/.dapr/bin/daprd, then daprd on PATH. It
// returns "" when there is none.
func FindDaprd(root string) string {
	cands := []string{os.Getenv("DAPRD"), filepath.Join(root, ".bin", "daprd")}
	if home, err := os.UserHomeDir(); err == nil {
		cands = append(cands, filepath.Join(home, ".dapr", "bin", "daprd"))
	}
	if p, err := exec.LookPath("daprd"); err == nil {
		cands = append(cands, p)
	}
	for _, c := range cands {
		if c == "" {
			continue
		}
		if st, err := os.Stat(c); err == nil && !st.IsDir() && st.Mode()&0o111 != 0 {
			return c
		}
	}
	return ""
}

// runningDaprds lists daprd processes on this machine (Linux /proc) by the
// app id on their command line.
func runningDaprds() map[string]int {
	found := map[string]int{}
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return found
	}
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		raw, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil || len(raw) == 0 {
			continue
		}
		args := strings.Split(string(bytes.TrimRight(raw, "\x00")), "\x00")
		if filepath.Base(args[0]) != "daprd" {
			continue
		}
		for i := 0; i+1 < len(args); i++ {
			if args[i] == "--app-id" {
				found[args[i+1]] = pid
			}
		}
	}
	return found
}
