package launcher

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// What the Dapr CLI and dashboard do to find sidecars, done here the same
// way (dapr/cli v1.14.1: pkg/standalone/list.go List, stop.go
// StopAppsWithRunFile, pkg/metadata Get; dashboard v0.15.0: pkg/instances
// getStandaloneInstances and GetMetadata), so that a test can tell whether
// `dapr list`, `dapr stop -f` and the dashboard see a run whole without
// the tools themselves.

// listRow is one row of `dapr list -o json`, with the CLI's JSON names.
type listRow struct {
	AppID              string `json:"appId"`
	HTTPPort           int    `json:"httpPort"`
	GRPCPort           int    `json:"grpcPort"`
	AppPort            int    `json:"appPort"`
	MetricsEnabled     bool   `json:"metricsEnabled"`
	Command            string `json:"command"`
	Created            string `json:"created"`
	DaprdPID           int    `json:"daprdPid"`
	CliPID             int    `json:"cliPid"`
	AppPID             int    `json:"appPid"`
	MaxRequestBodySize int    `json:"maxRequestBodySize"`
	HTTPReadBufferSize int    `json:"httpReadBufferSize"`
	RunTemplatePath    string `json:"runTemplatePath"`
	AppLogPath         string `json:"appLogPath"`
	DaprdLogPath       string `json:"daprdLogPath"`
	RunTemplateName    string `json:"runTemplateName"`
}

// sidecarMetadata is the part of GET /v1.0/metadata the CLI and the
// dashboard show.
type sidecarMetadata struct {
	ID             string            `json:"id"`
	RuntimeVersion string            `json:"runtimeVersion"`
	Components     []loadedComponent `json:"components"`
	Subscriptions  []struct {
		PubsubName string `json:"pubsubname"`
		Topic      string `json:"topic"`
	} `json:"subscriptions"`
	Extended                map[string]string `json:"extended"`
	AppConnectionProperties struct {
		Port     int    `json:"port"`
		Protocol string `json:"protocol"`
		Health   struct {
			HealthCheckPath     string `json:"healthCheckPath"`
			HealthProbeInterval string `json:"healthProbeInterval"`
			HealthThreshold     int    `json:"healthThreshold"`
		} `json:"health"`
	} `json:"appConnectionProperties"`
}

// loadedComponent is a component a sidecar loaded.
type loadedComponent struct {
	Name string `json:"name"`
	Type string `json:"type"`
}

// The CLI's defaults for a flag a daprd command line lacks (dapr/dapr
// pkg/runtime: DefaultDaprHTTPPort, DefaultDaprAPIGRPCPort,
// DefaultMaxRequestBodySize, DefaultReadBufferSize).
const (
	cliDefaultHTTPPort       = 3500
	cliDefaultGRPCPort       = 50001
	cliDefaultMaxRequestSize = 4 << 20
	cliDefaultReadBufferSize = 4 << 10
	cliCommandWidth          = 20
)

// daprList is `dapr list`: every process whose executable is named daprd,
// its flags read from its command line split at white space (`--flag
// value` pairs; a flag followed by another flag is a switch), then its
// sidecar's GET /v1.0/metadata on 127.0.0.1 without any token. Rows
// without an app id are left out, as the CLI does.
func daprList(tb testing.TB) []listRow {
	tb.Helper()
	entries, err := os.ReadDir("/proc")
	if err != nil {
		tb.Fatal(err)
	}
	var rows []listRow
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || !strings.EqualFold(executable(pid), "daprd") {
			continue
		}
		raw, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil {
			continue
		}
		items := strings.Fields(strings.ReplaceAll(string(raw), "\x00", " "))
		if len(items) <= 1 {
			continue
		}
		args := map[string]string{}
		for i := 1; i < len(items)-1; {
			if !strings.HasPrefix(items[i+1], "--") {
				args[items[i]] = items[i+1]
				i += 2
			} else {
				args[items[i]] = ""
				i++
			}
		}
		created, ok := startTime(pid)
		if !ok {
			continue
		}
		metricsEnabled, err := strconv.ParseBool(args["--enable-metrics"])
		if err != nil {
			metricsEnabled = true
		}
		row := listRow{
			AppID:              args["--app-id"],
			HTTPPort:           intArg(args, "--dapr-http-port", cliDefaultHTTPPort),
			GRPCPort:           intArg(args, "--dapr-grpc-port", cliDefaultGRPCPort),
			AppPort:            intArg(args, "--app-port", 0),
			MetricsEnabled:     metricsEnabled,
			MaxRequestBodySize: intArg(args, "--dapr-http-max-request-size", cliDefaultMaxRequestSize),
			HTTPReadBufferSize: intArg(args, "--dapr-http-read-buffer-size", cliDefaultReadBufferSize),
			DaprdPID:           pid,
			Created:            created.Format("2006-01-02 15:04.05"),
		}
		if md, err := getMetadata(fmt.Sprintf("http://127.0.0.1:%d/v1.0/metadata", row.HTTPPort)); err == nil {
			ext := md.Extended
			row.Command = truncate(ext["appCommand"], cliCommandWidth)
			row.AppPID, _ = strconv.Atoi(ext["appPID"])
			row.CliPID, _ = strconv.Atoi(ext["cliPID"])
			row.RunTemplatePath = ext["runTemplatePath"]
			row.RunTemplateName = ext["runTemplateName"]
			row.AppLogPath = ext["appLogPath"]
			row.DaprdLogPath = ext["daprdLogPath"]
		}
		if row.AppID != "" {
			rows = append(rows, row)
		}
	}
	return rows
}

// dashboardMetadata is what the standalone dashboard shows for an
// instance (its components, subscriptions and extended metadata): the
// sidecar's metadata from localhost:<http port>, with a dapr-api-token
// header only when the dashboard's own environment has DAPR_API_TOKEN.
func dashboardMetadata(row listRow) (sidecarMetadata, error) {
	return getMetadata(fmt.Sprintf("http://localhost:%d/v1.0/metadata", row.HTTPPort))
}

// getMetadata reads a sidecar's metadata as the tools do: a plain GET, an
// API token only from DAPR_API_TOKEN (the dashboard; the CLI sends none,
// and the tests do not set it), and any JSON answer decoded, even an error.
func getMetadata(url string) (sidecarMetadata, error) {
	var md sidecarMetadata
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		return md, err
	}
	if tok := os.Getenv("DAPR_API_TOKEN"); tok != "" {
		req.Header.Set("dapr-api-token", tok)
	}
	resp, err := (&http.Client{Timeout: 5 * time.Second}).Do(req)
	if err != nil {
		return md, err
	}
	defer resp.Body.Close()
	err = json.NewDecoder(resp.Body).Decode(&md)
	return md, err
}

// daprStop is `dapr stop -f <path>`: the run file (dapr.yaml when path is a
// folder) made absolute, the first listed sidecar whose runTemplatePath is
// that file, and SIGINT to the process group of its cliPID. It refuses to
// signal the test's own process group.
func daprStop(tb testing.TB, path string) error {
	tb.Helper()
	if st, err := os.Stat(path); err == nil && st.IsDir() {
		path = filepath.Join(path, "dapr.yaml")
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return err
	}
	for _, row := range daprList(tb) {
		if row.RunTemplatePath != abs {
			continue
		}
		pgid, err := syscall.Getpgid(row.CliPID)
		if err != nil {
			// The CLI then runs `kill <cliPID>`.
			return syscall.Kill(row.CliPID, syscall.SIGTERM)
		}
		if pgid == syscall.Getpgrp() {
			tb.Fatalf("the launcher (pid %d) is in the test's process group %d: dapr stop -f would interrupt whatever started it", row.CliPID, pgid)
		}
		return syscall.Kill(-pgid, syscall.SIGINT)
	}
	return fmt.Errorf("couldn't find apps with run file %q", abs)
}

// executable is a process's executable name as /proc/<pid>/stat has it.
func executable(pid int) string {
	st, _ := procStat(pid)
	return st.Comm
}

// startTime is when a process started: its start in clock ticks after boot
// (/proc/<pid>/stat) plus the boot time (/proc/stat btime), to the second.
func startTime(pid int) (time.Time, bool) {
	st, ok := procStat(pid)
	if !ok {
		return time.Time{}, false
	}
	secs, err := st.StartTime()
	if err != nil {
		return time.Time{}, false
	}
	return time.Unix(int64(secs), 0), true
}

func intArg(args map[string]string, key string, def int) int {
	if v, ok := args[key]; ok {
		if n, err := strconv.Atoi(v); err == nil {
			return n
		}
	}
	return def
}

// truncate shortens s to n bytes the way `dapr list` shows a command.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n-3] + "..."
}
