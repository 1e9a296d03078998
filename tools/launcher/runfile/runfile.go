// Package runfile reads a Dapr Multi-App Run file (the dapr.yaml that
// `dapr run -f .` reads) with the Dapr CLI's schema and merging rules, and
// turns each app into the daprd command line and app environment that the
// CLI would use.
//
// Schema and rules follow dapr/cli v1.14 (pkg/runfileconfig and
// pkg/standalone/run.go): a value set on an app wins over the same key in
// common; env maps merge key by key, app first; common paths and appDirPath
// are relative to the run file, other app paths to the app's folder;
// resourcesPaths fall back to <appDir>/.dapr/resources, then common.
package runfile

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"

	"gopkg.in/yaml.v3"
)

// File is a parsed run file.
type File struct {
	Version int    `yaml:"version"`
	Name    string `yaml:"name"`
	Common  App    `yaml:"common"`
	Apps    []App  `yaml:"apps"`
	// Path is the run file's absolute path.
	Path string `yaml:"-"`
}

// App is one app of the run file (or the common section), with the CLI's
// yaml keys.
type App struct {
	AppID             string   `yaml:"appID"`
	AppDirPath        string   `yaml:"appDirPath"`
	AppPort           int      `yaml:"appPort"`
	AppChannelAddress string   `yaml:"appChannelAddress"`
	Command           []string `yaml:"command"`

	DaprHTTPPort         int    `yaml:"daprHTTPPort"`
	DaprGRPCPort         int    `yaml:"daprGRPCPort"`
	DaprInternalGRPCPort int    `yaml:"daprInternalGRPCPort"`
	MetricsPort          int    `yaml:"metricsPort"`
	ProfilePort          int    `yaml:"profilePort"`
	UnixDomainSocket     string `yaml:"unixDomainSocket"`

	ConfigFilePath         string            `yaml:"configFilePath"`
	AppProtocol            string            `yaml:"appProtocol"`
	APIListenAddresses     string            `yaml:"apiListenAddresses"`
	EnableProfiling        bool              `yaml:"enableProfiling"`
	LogLevel               string            `yaml:"logLevel"`
	AppMaxConcurrency      int               `yaml:"appMaxConcurrency"`
	PlacementHostAddress   string            `yaml:"placementHostAddress"`
	SchedulerHostAddress   string            `yaml:"schedulerHostAddress"`
	ResourcesPath          string            `yaml:"resourcesPath"` // deprecated; merged into ResourcesPaths
	ResourcesPaths         []string          `yaml:"resourcesPaths"`
	AppSSL                 bool              `yaml:"appSSL"`
	DaprHTTPMaxRequestSize int               `yaml:"daprHTTPMaxRequestSize"`
	DaprHTTPReadBufferSize int               `yaml:"daprHTTPReadBufferSize"`
	EnableAppHealthCheck   bool              `yaml:"enableAppHealthCheck"`
	AppHealthCheckPath     string            `yaml:"appHealthCheckPath"`
	AppHealthProbeInterval int               `yaml:"appHealthProbeInterval"`
	AppHealthProbeTimeout  int               `yaml:"appHealthProbeTimeout"`
	AppHealthThreshold     int               `yaml:"appHealthThreshold"`
	EnableAPILogging       bool              `yaml:"enableApiLogging"`
	RuntimePath            string            `yaml:"runtimePath"`
	Env                    map[string]string `yaml:"env"`
	DaprdLogDestination    string            `yaml:"daprdLogDestination"`
	AppLogDestination      string            `yaml:"appLogDestination"`
}

// Log destinations, as the CLI names them.
const (
	LogFile           = "file"
	LogConsole        = "console"
	LogFileAndConsole = "fileAndConsole"
)

// Load reads, merges and validates the run file at path. Every relative
// path in the result is made absolute.
func Load(path string) (*File, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, err
	}
	if st, err := os.Stat(abs); err == nil && st.IsDir() {
		abs = filepath.Join(abs, "dapr.yaml")
	}
	raw, err := os.ReadFile(abs)
	if err != nil {
		return nil, fmt.Errorf("reading run file: %w", err)
	}
	var f File
	dec := yaml.NewDecoder(bytesReader(raw))
	dec.KnownFields(true)
	if err := dec.Decode(&f); err != nil {
		return nil, fmt.Errorf("parsing run file %s: %w", abs, err)
	}
	f.Path = abs
	if err := f.resolve(); err != nil {
		return nil, fmt.Errorf("run file %s: %w", abs, err)
	}
	return &f, nil
}

func (f *File) resolve() error {
	if f.Version <= 0 {
		return errors.New("version is required and must be at least 1")
	}
	if len(f.Apps) == 0 {
		return errors.New("apps is empty")
	}
	root := filepath.Dir(f.Path)
	c := &f.Common
	if c.ResourcesPath != "" {
		c.ResourcesPaths = append(c.ResourcesPaths, c.ResourcesPath)
		c.ResourcesPath = ""
	}
	for i, p := range c.ResourcesPaths {
		c.ResourcesPaths[i] = absFrom(root, p)
	}
	if c.ConfigFilePath != "" {
		c.ConfigFilePath = absFrom(root, c.ConfigFilePath)
	}
	seen := map[string]bool{}
	for i := range f.Apps {
		a := &f.Apps[i]
		if a.AppDirPath == "" {
			return fmt.Errorf("apps[%d]: appDirPath is required", i)
		}
		a.AppDirPath = absFrom(root, a.AppDirPath)
		if st, err := os.Stat(a.AppDirPath); err != nil || !st.IsDir() {
			return fmt.Errorf("apps[%d]: appDirPath %s is not a folder", i, a.AppDirPath)
		}
		if a.AppID == "" {
			a.AppID = filepath.Base(a.AppDirPath)
		}
		if seen[a.AppID] {
			return fmt.Errorf("appID %q appears twice", a.AppID)
		}
		seen[a.AppID] = true
		if a.ResourcesPath != "" {
			a.ResourcesPaths = append(a.ResourcesPaths, a.ResourcesPath)
			a.ResourcesPath = ""
		}
		for j, p := range a.ResourcesPaths {
			a.ResourcesPaths[j] = absFrom(a.AppDirPath, p)
		}
		if a.ConfigFilePath != "" {
			a.ConfigFilePath = absFrom(a.AppDirPath, a.ConfigFilePath)
		}
		merge(a, c)
		if len(a.ResourcesPaths) == 0 {
			if dir := filepath.Join(a.AppDirPath, ".dapr", "resources"); isDir(dir) {
				a.ResourcesPaths = []string{dir}
			}
		}
		for _, p := range a.ResourcesPaths {
			if !isDir(p) {
				return fmt.Errorf("app %s: resources path %s does not exist", a.AppID, p)
			}
		}
		if a.ConfigFilePath != "" {
			if _, err := os.Stat(a.ConfigFilePath); err != nil {
				return fmt.Errorf("app %s: config file %s does not exist", a.AppID, a.ConfigFilePath)
			}
		}
		if len(a.Command) == 0 {
			return fmt.Errorf("app %s: command is required", a.AppID)
		}
	}
	return nil
}

// merge fills the zero fields of a from common, as the CLI does.
func merge(a, c *App) {
	setS := func(dst *string, v string) {
		if *dst == "" {
			*dst = v
		}
	}
	setI := func(dst *int, v int) {
		if *dst == 0 {
			*dst = v
		}
	}
	setB := func(dst *bool, v bool) {
		if !*dst {
			*dst = v
		}
	}
	setS(&a.ConfigFilePath, c.ConfigFilePath)
	setS(&a.AppProtocol, c.AppProtocol)
	setS(&a.APIListenAddresses, c.APIListenAddresses)
	setB(&a.EnableProfiling, c.EnableProfiling)
	setS(&a.LogLevel, c.LogLevel)
	setI(&a.AppMaxConcurrency, c.AppMaxConcurrency)
	setS(&a.PlacementHostAddress, c.PlacementHostAddress)
	setS(&a.SchedulerHostAddress, c.SchedulerHostAddress)
	if len(a.ResourcesPaths) == 0 {
		a.ResourcesPaths = append([]string(nil), c.ResourcesPaths...)
	}
	setB(&a.AppSSL, c.AppSSL)
	setI(&a.DaprHTTPMaxRequestSize, c.DaprHTTPMaxRequestSize)
	setI(&a.DaprHTTPReadBufferSize, c.DaprHTTPReadBufferSize)
	setB(&a.EnableAppHealthCheck, c.EnableAppHealthCheck)
	setS(&a.AppHealthCheckPath, c.AppHealthCheckPath)
	setI(&a.AppHealthProbeInterval, c.AppHealthProbeInterval)
	setI(&a.AppHealthProbeTimeout, c.AppHealthProbeTimeout)
	setI(&a.AppHealthThreshold, c.AppHealthThreshold)
	setB(&a.EnableAPILogging, c.EnableAPILogging)
	setS(&a.RuntimePath, c.RuntimePath)
	setS(&a.DaprdLogDestination, c.DaprdLogDestination)
	setS(&a.AppLogDestination, c.AppLogDestination)
	if len(c.Env) > 0 {
		env := make(map[string]string, len(c.Env)+len(a.Env))
		for k, v := range c.Env {
			env[k] = v
		}
		for k, v := range a.Env {
			env[k] = v
		}
		a.Env = env
	}
	if a.DaprdLogDestination == "" {
		a.DaprdLogDestination = LogFile
	}
	if a.AppLogDestination == "" {
		a.AppLogDestination = LogFileAndConsole
	}
	if a.AppProtocol == "" {
		a.AppProtocol = "http"
	}
}

// DaprdArgs returns daprd's arguments for app a, in the order and the
// space-separated `--flag value` form the Dapr CLI uses, so `dapr list` and
// the dashboard can parse them. Ports must already be assigned.
func (a *App) DaprdArgs() []string {
	var args []string
	add := func(flag, v string) { args = append(args, "--"+flag, v) }
	if a.ConfigFilePath != "" {
		add("config", a.ConfigFilePath)
	}
	add("app-protocol", a.AppProtocol)
	if a.APIListenAddresses != "" {
		add("dapr-listen-addresses", a.APIListenAddresses)
	}
	if a.EnableProfiling {
		args = append(args, "--enable-profiling")
	}
	if a.LogLevel != "" {
		add("log-level", a.LogLevel)
	}
	add("app-max-concurrency", strconv.Itoa(orMinus1(a.AppMaxConcurrency)))
	placement := a.PlacementHostAddress
	if placement == "" {
		placement = "localhost:50005"
	}
	add("placement-host-address", placement)
	for _, p := range a.ResourcesPaths {
		add("resources-path", p)
	}
	if a.AppSSL {
		args = append(args, "--app-ssl")
	}
	add("dapr-http-max-request-size", strconv.Itoa(orMinus1(a.DaprHTTPMaxRequestSize)))
	add("dapr-http-read-buffer-size", strconv.Itoa(orMinus1(a.DaprHTTPReadBufferSize)))
	if a.EnableAppHealthCheck {
		args = append(args, "--enable-app-health-check")
		if a.AppHealthCheckPath != "" {
			add("app-health-check-path", a.AppHealthCheckPath)
		}
		if a.AppHealthProbeInterval > 0 {
			add("app-health-probe-interval", strconv.Itoa(a.AppHealthProbeInterval))
		}
		if a.AppHealthProbeTimeout > 0 {
			add("app-health-probe-timeout", strconv.Itoa(a.AppHealthProbeTimeout))
		}
		if a.AppHealthThreshold > 0 {
			add("app-health-threshold", strconv.Itoa(a.AppHealthThreshold))
		}
	}
	if a.EnableAPILogging {
		args = append(args, "--enable-api-logging")
	}
	if a.SchedulerHostAddress != "" {
		add("scheduler-host-address", a.SchedulerHostAddress)
	}
	add("app-id", a.AppID)
	if a.AppChannelAddress != "" && a.AppChannelAddress != "127.0.0.1" {
		add("app-channel-address", a.AppChannelAddress)
	}
	if a.AppPort > 0 {
		add("app-port", strconv.Itoa(a.AppPort))
	}
	add("dapr-http-port", strconv.Itoa(a.DaprHTTPPort))
	add("dapr-grpc-port", strconv.Itoa(a.DaprGRPCPort))
	add("profile-port", strconv.Itoa(orMinus1(a.ProfilePort)))
	add("metrics-port", strconv.Itoa(a.MetricsPort))
	if a.UnixDomainSocket != "" {
		add("unix-domain-socket", a.UnixDomainSocket)
	}
	add("dapr-internal-grpc-port", strconv.Itoa(a.DaprInternalGRPCPort))
	return args
}

// AppEnv returns the variables the CLI adds to the app's environment, in
// its order (the run file's env last, so it wins).
func (a *App) AppEnv() []string {
	env := []string{"APP_ID=" + a.AppID, "APP_CHANNEL_ADDRESS=" + a.AppChannelAddress}
	if a.AppPort > 0 {
		env = append(env, "APP_PORT="+strconv.Itoa(a.AppPort))
	}
	env = append(env,
		"DAPR_HTTP_PORT="+strconv.Itoa(a.DaprHTTPPort),
		"DAPR_GRPC_PORT="+strconv.Itoa(a.DaprGRPCPort),
		"DAPR_METRICS_PORT="+strconv.Itoa(a.MetricsPort),
		"APP_PROTOCOL="+a.AppProtocol,
	)
	for _, k := range sortedKeys(a.Env) {
		env = append(env, k+"="+a.Env[k])
	}
	return env
}

func orMinus1(v int) int {
	if v <= 0 {
		return -1
	}
	return v
}

func absFrom(base, p string) string {
	if filepath.IsAbs(p) {
		return filepath.Clean(p)
	}
	return filepath.Join(base, p)
}

func isDir(p string) bool {
	st, err := os.Stat(p)
	return err == nil && st.IsDir()
}
