package runfile_test

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/finflow/finflow/tools/launcher/runfile"
)

// The repository's own dapr.yaml must stay a valid run file with FinFlow's
// six apps on the contract's ports.
func TestRepositoryRunFile(t *testing.T) {
	f, err := runfile.Load("../../../dapr.yaml")
	if err != nil {
		t.Fatalf("Load(dapr.yaml): %v", err)
	}
	want := map[string]int{"gateway": 8080, "user": 8081, "wallet": 8082, "billing": 8083, "payment": 8084, "razorpay": 8087}
	if len(f.Apps) != len(want) {
		t.Fatalf("dapr.yaml has %d apps, want %d", len(f.Apps), len(want))
	}
	for _, a := range f.Apps {
		if want[a.AppID] != a.AppPort {
			t.Errorf("app %s port %d, want %d", a.AppID, a.AppPort, want[a.AppID])
		}
		if filepath.Base(a.AppDirPath) != a.AppID {
			t.Errorf("app %s lives in %s", a.AppID, a.AppDirPath)
		}
		if len(a.ResourcesPaths) != 1 || filepath.Base(a.ResourcesPaths[0]) != "components" {
			t.Errorf("app %s resources %v, want the components folder", a.AppID, a.ResourcesPaths)
		}
		if a.DaprHTTPPort != 0 || a.MetricsPort != 0 {
			t.Errorf("app %s pins sidecar ports; they must be free ports chosen at start", a.AppID)
		}
	}
}

func writeRunFile(t *testing.T, body string) string {
	t.Helper()
	dir := t.TempDir()
	for _, d := range []string{"svc/a", "svc/b", "components", "svc/b/res"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "config.yaml"), []byte("kind: Configuration\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, "dapr.yaml")
	if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestMergeAndArgs(t *testing.T) {
	p := writeRunFile(t, `version: 1
common:
  resourcesPaths: [./components]
  configFilePath: ./config.yaml
  logLevel: debug
  env: {SHARED: common, OVERRIDE: common}
apps:
  - appDirPath: ./svc/a
    appPort: 9001
    command: ["./a"]
  - appID: bee
    appDirPath: ./svc/b
    resourcesPaths: [./res]
    logLevel: warn
    env: {OVERRIDE: app}
    command: ["./b"]
`)
	f, err := runfile.Load(p)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	a, b := f.Apps[0], f.Apps[1]
	if a.AppID != "a" {
		t.Errorf("appID defaults to folder name: got %q", a.AppID)
	}
	if a.LogLevel != "debug" || b.LogLevel != "warn" {
		t.Errorf("logLevel a=%q b=%q, want debug (common) and warn (app)", a.LogLevel, b.LogLevel)
	}
	if b.Env["OVERRIDE"] != "app" || b.Env["SHARED"] != "common" {
		t.Errorf("env merge = %v", b.Env)
	}
	if !strings.HasSuffix(b.ResourcesPaths[0], "svc/b/res") || !strings.HasSuffix(a.ResourcesPaths[0], "/components") {
		t.Errorf("resources a=%v b=%v", a.ResourcesPaths, b.ResourcesPaths)
	}
	if a.DaprdLogDestination != "file" || a.AppLogDestination != "fileAndConsole" {
		t.Errorf("log destinations default to the CLI's: %q %q", a.DaprdLogDestination, a.AppLogDestination)
	}

	a.DaprHTTPPort, a.DaprGRPCPort, a.MetricsPort, a.DaprInternalGRPCPort = 1, 2, 3, 4
	args := a.DaprdArgs()
	for _, arg := range args {
		if strings.HasPrefix(arg, "--") && strings.Contains(arg, "=") {
			t.Fatalf("arg %q uses --flag=value; dapr list needs space-separated pairs", arg)
		}
	}
	pairs := map[string]string{}
	for i := 0; i+1 < len(args); i++ {
		if strings.HasPrefix(args[i], "--") && !strings.HasPrefix(args[i+1], "--") {
			pairs[args[i]] = args[i+1]
		}
	}
	for flag, want := range map[string]string{
		"--app-id": "a", "--app-port": "9001", "--dapr-http-port": "1", "--dapr-grpc-port": "2",
		"--metrics-port": "3", "--dapr-internal-grpc-port": "4", "--log-level": "debug",
		"--placement-host-address": "localhost:50005", "--app-max-concurrency": "-1",
	} {
		if pairs[flag] != want {
			t.Errorf("%s = %q, want %q (args %v)", flag, pairs[flag], want, args)
		}
	}
	env := a.AppEnv()
	for _, want := range []string{"APP_ID=a", "APP_PORT=9001", "DAPR_HTTP_PORT=1", "DAPR_GRPC_PORT=2", "DAPR_METRICS_PORT=3", "APP_PROTOCOL=http", "SHARED=common"} {
		if !slices.Contains(env, want) {
			t.Errorf("AppEnv lacks %s: %v", want, env)
		}
	}
}

func TestLoadRejects(t *testing.T) {
	cases := []struct{ name, body, want string }{
		{"no version", "apps: [{appDirPath: ./svc/a, command: [x]}]", "version"},
		{"no apps", "version: 1\n", "apps"},
		{"missing dir", "version: 1\napps: [{appDirPath: ./nope, command: [x]}]", "not a folder"},
		{"no command", "version: 1\napps: [{appDirPath: ./svc/a}]", "command"},
		{"duplicate id", "version: 1\napps: [{appDirPath: ./svc/a, command: [x]}, {appID: a, appDirPath: ./svc/b, command: [x]}]", "twice"},
		{"unknown key", "version: 1\nbogus: 1\napps: [{appDirPath: ./svc/a, command: [x]}]", "bogus"},
		{"missing resources", "version: 1\napps: [{appDirPath: ./svc/a, command: [x], resourcesPaths: [./gone]}]", "does not exist"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := runfile.Load(writeRunFile(t, tc.body))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Load = %v, want an error mentioning %q", err, tc.want)
			}
		})
	}
}
