package deploy

// Checks of docker-compose.yml, deploy/docker and deploy/compose against
// dapr.yaml, components/ and config/: the Compose topology must be the one
// `make run` starts, with only host addresses changed. No Docker engine is
// needed; every file is parsed.

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"go/parser"
	"go/token"
	"io"
	"net"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/finflow/finflow/platform/service"
	"github.com/finflow/finflow/tools/launcher/runfile"
)

const (
	// composeDaprdImage is the sidecar image: the daprd that `make daprd`
	// provides locally (1.14.0).
	composeDaprdImage = "daprio/daprd:1.14.0"
	// composeDaprdWorkdir is the daprd image's WORKDIR (dapr/dapr
	// docker/Dockerfile), where ./daprd is and against which relative paths
	// in components resolve.
	composeDaprdWorkdir = "/"
	// composeSentryImage is Dapr's certificate authority, of the same
	// release as the sidecars.
	composeSentryImage = "daprio/sentry:1.14.0"
	// composeNamespace is the namespace of every sidecar's identity
	// (spiffe://public/ns/default/<app>), as the launcher gives it: the
	// access policies of config/secure name it.
	composeNamespace = "default"
	// composeDaprdMetricsPort is daprd's default --metrics-port.
	composeDaprdMetricsPort = 9090
	// composeSimulatorPort is where `make run` serves the Razorpay simulator.
	composeSimulatorPort = 8090
	// composeModulePrefix is the import path prefix of FinFlow's modules.
	composeModulePrefix = "github.com/finflow/finflow/"
)

// composeFile is what the checks read of docker-compose.yml.
type composeFile struct {
	Services map[string]composeService `yaml:"services"`
	Volumes  map[string]any            `yaml:"volumes"`
}

// composeService is one Compose service.
type composeService struct {
	Image       string           `yaml:"image"`
	Build       *composeBuild    `yaml:"build"`
	Command     composeStrings   `yaml:"command"`
	Entrypoint  composeStrings   `yaml:"entrypoint"`
	WorkingDir  string           `yaml:"working_dir"`
	Environment composeEnv       `yaml:"environment"`
	Volumes     []composeMount   `yaml:"volumes"`
	Ports       []composePort    `yaml:"ports"`
	NetworkMode string           `yaml:"network_mode"`
	DependsOn   composeDependsOn `yaml:"depends_on"`
	Healthcheck *composeHealth   `yaml:"healthcheck"`
	Restart     string           `yaml:"restart"`
}

// composeBuild is a service's build section.
type composeBuild struct {
	Context    string            `yaml:"context"`
	Dockerfile string            `yaml:"dockerfile"`
	Args       map[string]string `yaml:"args"`
}

// composeHealth is a service's healthcheck.
type composeHealth struct {
	Test composeStrings `yaml:"test"`
}

// composeStrings is a command: a list, or a string split on blanks.
type composeStrings []string

func (s *composeStrings) UnmarshalYAML(n *yaml.Node) error {
	switch n.Kind {
	case yaml.ScalarNode:
		*s = strings.Fields(n.Value)
		return nil
	case yaml.SequenceNode:
		var l []string
		if err := n.Decode(&l); err != nil {
			return err
		}
		*s = l
		return nil
	}
	return fmt.Errorf("line %d: want a string or a list", n.Line)
}

// composeEnv is an environment: a map, or a list of NAME=value.
type composeEnv map[string]string

func (e *composeEnv) UnmarshalYAML(n *yaml.Node) error {
	out := composeEnv{}
	switch n.Kind {
	case yaml.MappingNode:
		var m map[string]yaml.Node
		if err := n.Decode(&m); err != nil {
			return err
		}
		for k, v := range m {
			n := &v
			for n.Kind == yaml.AliasNode { // a value shared with an anchor
				n = n.Alias
			}
			out[k] = n.Value
		}
	case yaml.SequenceNode:
		var l []string
		if err := n.Decode(&l); err != nil {
			return err
		}
		for _, kv := range l {
			k, v, _ := strings.Cut(kv, "=")
			out[k] = v
		}
	default:
		return fmt.Errorf("line %d: environment must be a map or a list", n.Line)
	}
	*e = out
	return nil
}

// composeMount is a volume of a service, short or long syntax.
type composeMount struct {
	Source, Target string
	ReadOnly       bool
}

// composeBind reports whether the mount is a host path, not a named volume.
func (m composeMount) composeBind() bool {
	return strings.HasPrefix(m.Source, ".") || strings.HasPrefix(m.Source, "/")
}

func (m *composeMount) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind == yaml.ScalarNode {
		parts := strings.Split(n.Value, ":")
		switch len(parts) {
		case 1:
			m.Target = parts[0]
		case 2, 3:
			m.Source, m.Target = parts[0], parts[1]
			m.ReadOnly = len(parts) == 3 && slices.Contains(strings.Split(parts[2], ","), "ro")
		default:
			return fmt.Errorf("line %d: volume %q", n.Line, n.Value)
		}
		return nil
	}
	var long struct {
		Source   string `yaml:"source"`
		Target   string `yaml:"target"`
		ReadOnly bool   `yaml:"read_only"`
	}
	if err := n.Decode(&long); err != nil {
		return err
	}
	m.Source, m.Target, m.ReadOnly = long.Source, long.Target, long.ReadOnly
	return nil
}

// composePort is a ports entry: Published is the host port ("" when Docker
// picks one), Target the container port.
type composePort struct {
	Published, Target, HostIP string
}

func (p *composePort) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind == yaml.ScalarNode {
		spec, _, _ := strings.Cut(n.Value, "/")
		parts := strings.Split(spec, ":")
		switch len(parts) {
		case 1:
			p.Target = parts[0]
		case 2:
			p.Published, p.Target = parts[0], parts[1]
		case 3:
			p.HostIP, p.Published, p.Target = parts[0], parts[1], parts[2]
		default:
			return fmt.Errorf("line %d: port %q", n.Line, n.Value)
		}
		return nil
	}
	var long struct {
		Target    string `yaml:"target"`
		Published string `yaml:"published"`
		HostIP    string `yaml:"host_ip"`
	}
	if err := n.Decode(&long); err != nil {
		return err
	}
	p.Target, p.Published, p.HostIP = long.Target, long.Published, long.HostIP
	return nil
}

// composeDependsOn maps a dependency to its condition (service_started
// for the list form).
type composeDependsOn map[string]string

func (d *composeDependsOn) UnmarshalYAML(n *yaml.Node) error {
	out := composeDependsOn{}
	switch n.Kind {
	case yaml.SequenceNode:
		var l []string
		if err := n.Decode(&l); err != nil {
			return err
		}
		for _, s := range l {
			out[s] = "service_started"
		}
	case yaml.MappingNode:
		var m map[string]struct {
			Condition string `yaml:"condition"`
		}
		if err := n.Decode(&m); err != nil {
			return err
		}
		for k, v := range m {
			out[k] = composeOr(v.Condition, "service_started")
		}
	default:
		return fmt.Errorf("line %d: depends_on must be a list or a map", n.Line)
	}
	*d = out
	return nil
}

// composeOr is v, or def when v is empty.
func composeOr(v, def string) string {
	if v == "" {
		return def
	}
	return v
}

// composeRepo is the test's view of the repository.
type composeRepo struct {
	root    string
	compose composeFile
	run     *runfile.File
}

// composeLoad reads docker-compose.yml and dapr.yaml, or fails the test.
func composeLoad(tb testing.TB) *composeRepo {
	tb.Helper()
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		tb.Fatal(err)
	}
	raw, err := os.ReadFile(filepath.Join(root, "docker-compose.yml"))
	if err != nil {
		tb.Fatalf("docker-compose.yml: %v", err)
	}
	r := &composeRepo{root: root}
	if err := yaml.Unmarshal(composeInterpolate(raw), &r.compose); err != nil {
		tb.Fatalf("parsing docker-compose.yml: %v", err)
	}
	if len(r.compose.Services) == 0 {
		tb.Fatal("docker-compose.yml has no services")
	}
	if r.run, err = runfile.Load(filepath.Join(root, "dapr.yaml")); err != nil {
		tb.Fatal(err)
	}
	return r
}

// composeVariable is a Compose variable reference: ${NAME}, ${NAME:-default}
// or ${NAME-default}.
var composeVariable = regexp.MustCompile(`\$\{[A-Za-z_][A-Za-z0-9_]*(?::?-([^}]*))?\}`)

// composeInterpolate fills in every variable as Compose does when none is
// set: its default, or nothing. The checks see what a user gets from
// `docker compose up` with no .env.
func composeInterpolate(raw []byte) []byte {
	return composeVariable.ReplaceAll(raw, []byte("$1"))
}

// composeRel is p relative to the repository root, with slashes.
func (r *composeRepo) composeRel(tb testing.TB, p string) string {
	tb.Helper()
	rel, err := filepath.Rel(r.root, p)
	if err != nil {
		tb.Fatal(err)
	}
	return filepath.ToSlash(rel)
}

// composeBuiltFrom returns the services built from the folder dir (the
// Dockerfile's SERVICE build argument), sorted by name.
func (r *composeRepo) composeBuiltFrom(dir string) []string {
	var names []string
	for name, s := range r.compose.Services {
		if s.Build != nil && path.Clean(s.Build.Args["SERVICE"]) == path.Clean(dir) {
			names = append(names, name)
		}
	}
	sort.Strings(names)
	return names
}

// composeOneBuiltFrom is the one service built from dir, or fails the test.
func (r *composeRepo) composeOneBuiltFrom(tb testing.TB, dir string) (string, composeService) {
	tb.Helper()
	names := r.composeBuiltFrom(dir)
	if len(names) != 1 {
		tb.Fatalf("services built from %s (build arg SERVICE) = %v, want exactly one", dir, names)
	}
	return names[0], r.compose.Services[names[0]]
}

// composeSidecars returns the services in the network namespace of app.
func (r *composeRepo) composeSidecars(app string) []string {
	var names []string
	for name, s := range r.compose.Services {
		if s.NetworkMode == "service:"+app {
			names = append(names, name)
		}
	}
	sort.Strings(names)
	return names
}

// composeHostPath maps a path inside a service's container to the host
// path of the bind mount that holds it (the longest matching target).
func (r *composeRepo) composeHostPath(s composeService, inside string) (string, bool) {
	inside = path.Clean(inside)
	best, host := "", ""
	for _, m := range s.Volumes {
		t := path.Clean(m.Target)
		if !m.composeBind() || (inside != t && !strings.HasPrefix(inside, strings.TrimSuffix(t, "/")+"/")) {
			continue
		}
		if len(t) > len(best) {
			best = t
			host = filepath.Join(r.root, filepath.FromSlash(m.Source), filepath.FromSlash(strings.TrimPrefix(inside, t)))
		}
	}
	return host, best != ""
}

// composeFlags parses a command's --flag value pairs; a flag without a
// value is "true". Values of repeated flags are kept in order.
func composeFlags(args []string) map[string][]string {
	out := map[string][]string{}
	for i := 0; i < len(args); i++ {
		a := args[i]
		if !strings.HasPrefix(a, "-") {
			continue
		}
		name := strings.TrimLeft(a, "-")
		if k, v, ok := strings.Cut(name, "="); ok {
			out[k] = append(out[k], v)
			continue
		}
		if i+1 < len(args) && !strings.HasPrefix(args[i+1], "-") {
			out[name] = append(out[name], args[i+1])
			i++
			continue
		}
		out[name] = append(out[name], "true")
	}
	return out
}

// composeFlag is the last value of a flag, "" when absent.
func composeFlag(flags map[string][]string, name string) string {
	if v := flags[name]; len(v) > 0 {
		return v[len(v)-1]
	}
	return ""
}

// composeRedisAddr is the address of the Compose Redis (the service redis,
// checked to run a Redis image) on Redis's default port.
func (r *composeRepo) composeRedisAddr(tb testing.TB) (host, port string) {
	tb.Helper()
	s, ok := r.compose.Services["redis"]
	if !ok {
		tb.Fatal("docker-compose.yml has no service redis")
	}
	if !strings.HasPrefix(s.Image, "redis:") {
		tb.Fatalf("service redis: image = %q, want a redis image", s.Image)
	}
	return "redis", "6379"
}

// TestComposeAppsHaveSidecars checks, for every app of dapr.yaml, its
// Compose service and its daprd sidecar: app id and port, the network
// namespace they share, the sidecar's flags as dapr.yaml's common section
// sets them, and the app's environment as the launcher gives it.
func TestComposeAppsHaveSidecars(t *testing.T) {
	r := composeLoad(t)
	redisHost, redisPort := r.composeRedisAddr(t)
	tokenOwner := map[string]string{}
	compared := map[[2]string]bool{} // resource folders compared: once is enough
	for _, app := range r.run.Apps {
		t.Run(app.AppID, func(t *testing.T) {
			svc, ok := r.compose.Services[app.AppID]
			if !ok {
				t.Fatalf("no Compose service %q for dapr.yaml's app %s", app.AppID, app.AppID)
			}
			if svc.Build == nil {
				t.Fatalf("service %s has no build section", app.AppID)
			}
			if got, want := svc.Build.Args["SERVICE"], r.composeRel(t, app.AppDirPath); got != want {
				t.Errorf("service %s: build arg SERVICE = %q, want %q (dapr.yaml's appDirPath)", app.AppID, got, want)
			}

			// `up --wait` waits for the app to be ready, through its own
			// probe mode (the image has no shell or HTTP client).
			if want := []string{"CMD", "/app", service.HealthcheckArg}; svc.Healthcheck == nil || !slices.Equal(svc.Healthcheck.Test, want) {
				t.Errorf("service %s: healthcheck %+v, want test %q", app.AppID, svc.Healthcheck, want)
			}

			sidecars := r.composeSidecars(app.AppID)
			if len(sidecars) != 1 {
				t.Fatalf("services with network_mode service:%s = %v, want exactly one daprd sidecar", app.AppID, sidecars)
			}
			name := sidecars[0]
			sc := r.compose.Services[name]
			if sc.Image != composeDaprdImage {
				t.Errorf("%s: image = %q, want %q", name, sc.Image, composeDaprdImage)
			}
			if len(sc.Command) == 0 || (sc.Command[0] != "./daprd" && sc.Command[0] != "/daprd") {
				t.Fatalf("%s: command = %q, want ./daprd and its flags", name, sc.Command)
			}
			if len(sc.Entrypoint) > 0 || (sc.WorkingDir != "" && path.Clean(sc.WorkingDir) != composeDaprdWorkdir) {
				t.Errorf("%s: entrypoint %q, working_dir %q: keep the image's (./daprd in %s)", name, sc.Entrypoint, sc.WorkingDir, composeDaprdWorkdir)
			}
			flags := composeFlags(sc.Command[1:])
			intFlag := func(flag string, def int) int {
				v := composeFlag(flags, flag)
				if v == "" {
					return def
				}
				n, err := strconv.Atoi(v)
				if err != nil {
					t.Errorf("%s: --%s %q is not a port", name, flag, v)
				}
				return n
			}
			healthCheck := "false"
			if app.EnableAppHealthCheck {
				healthCheck = "true"
			}
			for _, c := range []struct{ flag, want string }{
				{"app-id", app.AppID},
				{"app-port", strconv.Itoa(app.AppPort)},
				{"app-protocol", app.AppProtocol},
				{"dapr-listen-addresses", app.APIListenAddresses},
				{"enable-app-health-check", healthCheck},
				{"app-health-check-path", app.AppHealthCheckPath},
				{"app-health-probe-interval", strconv.Itoa(app.AppHealthProbeInterval)},
				{"app-health-threshold", strconv.Itoa(app.AppHealthThreshold)},
				{"log-level", app.LogLevel},
			} {
				got := composeFlag(flags, c.flag)
				if c.want == "0" || c.want == "false" {
					c.want = "" // unset in dapr.yaml: daprd's default, so no flag
				}
				if got != c.want {
					t.Errorf("%s: --%s = %q, want %q (dapr.yaml)", name, c.flag, got, c.want)
				}
			}
			// The other sidecars reach this one through its internal gRPC
			// port at the address it registers in mDNS: neither may be
			// loopback, as the launcher makes them on one machine.
			if a := composeFlag(flags, "dapr-internal-grpc-listen-address"); a != "" && composeLoopback(a) {
				t.Errorf("%s: --dapr-internal-grpc-listen-address %s: other sidecars cannot reach it", name, a)
			}
			if ip := sc.Environment["DAPR_HOST_IP"]; ip != "" && composeLoopback(ip) {
				t.Errorf("%s: DAPR_HOST_IP=%s would be advertised to the other sidecars", name, ip)
			}

			// Components: every --resources-path is a mounted folder with
			// the same components as dapr.yaml's resourcesPaths.
			paths := flags["resources-path"]
			if len(paths) != len(app.ResourcesPaths) {
				t.Errorf("%s: --resources-path %q, want %d folder(s) like dapr.yaml's %q", name, paths, len(app.ResourcesPaths), app.ResourcesPaths)
			}
			for i, p := range paths {
				host, ok := r.composeHostPath(sc, p)
				if !ok {
					t.Errorf("%s: --resources-path %s is not in a bind-mounted folder", name, p)
					continue
				}
				if pair := [2]string{app.ResourcesPaths[min(i, len(app.ResourcesPaths)-1)], host}; !compared[pair] {
					compared[pair] = true
					composeSameResources(t, r, pair[0], pair[1])
				}
				composeSecretFilesResolve(t, r, name, sc, host)
			}
			// Configuration: with Sentry, the launcher gives each sidecar
			// config/secure/<app>.yaml (its access policies) instead of
			// dapr.yaml's configFilePath.
			cfg, secure := composeFlag(flags, "config"), filepath.Join(r.root, "config", "secure", app.AppID+".yaml")
			if host, ok := r.composeHostPath(sc, cfg); !ok {
				t.Errorf("%s: --config %q is not in a bind-mounted folder", name, cfg)
			} else if !composeSameFile(t, host, secure) {
				t.Errorf("%s: --config %s is %s, not %s (the launcher's with Sentry)", name, cfg, r.composeRel(t, host), r.composeRel(t, secure))
			}
			// mTLS from the Compose Sentry, as the launcher's sidecars.
			sentryName, sentry := r.composeSentry(t)
			sentryFlags := composeFlags(sentry.Command[1:])
			for _, c := range []struct{ flag, want string }{
				{"enable-mtls", "true"},
				{"sentry-address", net.JoinHostPort(sentryName, composeOr(composeFlag(sentryFlags, "port"), "50001"))},
				{"control-plane-trust-domain", composeOr(composeFlag(sentryFlags, "trust-domain"), "localhost")},
			} {
				if got := composeFlag(flags, c.flag); got != c.want {
					t.Errorf("%s: --%s = %q, want %q (the Compose Sentry's)", name, c.flag, got, c.want)
				}
			}
			if got := sc.Environment["NAMESPACE"]; got != composeNamespace {
				t.Errorf("%s: NAMESPACE = %q, want %q (the access policies' namespace)", name, got, composeNamespace)
			}
			if got, want := strings.TrimSpace(sc.Environment["DAPR_TRUST_ANCHORS"]), strings.TrimSpace(string(r.composeSentryFile(t, "ca.crt"))); got != want {
				t.Errorf("%s: DAPR_TRUST_ANCHORS is not the ca.crt Sentry signs with:\n got %q\nwant %q", name, got, want)
			}
			if got := sc.DependsOn[sentryName]; got == "" {
				t.Errorf("%s does not depend on %s", name, sentryName)
			}

			// The app's environment: what the launcher gives it, with the
			// sidecar's ports.
			want := app
			want.DaprHTTPPort = intFlag("dapr-http-port", 3500)
			want.DaprGRPCPort = intFlag("dapr-grpc-port", 50001)
			want.MetricsPort = intFlag("metrics-port", composeDaprdMetricsPort)
			for _, kv := range want.AppEnv() {
				k, v, _ := strings.Cut(kv, "=")
				if v == "" {
					continue
				}
				if got := svc.Environment[k]; got != v {
					t.Errorf("service %s: %s = %q, want %q", app.AppID, k, got, v)
				}
			}
			if got, want := svc.Environment["REDIS_ADDR"], net.JoinHostPort(redisHost, redisPort); got != want {
				t.Errorf("service %s: REDIS_ADDR = %q, want %q", app.AppID, got, want)
			}
			// Both tokens are set, the same on the app and its sidecar, and
			// not shared with another app.
			for _, k := range []string{"DAPR_API_TOKEN", "APP_API_TOKEN"} {
				appTok, scTok := svc.Environment[k], sc.Environment[k]
				if appTok == "" || appTok != scTok {
					t.Errorf("%s: service %s has %q, %s has %q: want one non-empty value on both", k, app.AppID, appTok, name, scTok)
					continue
				}
				if owner, dup := tokenOwner[appTok]; dup {
					t.Errorf("%s of %s is also %s's: every app needs its own", k, app.AppID, owner)
				}
				tokenOwner[appTok] = app.AppID + " " + k
			}
			// Apps start after the runtime settings are seeded.
			if got := svc.DependsOn["settings"]; got != "service_completed_successfully" {
				t.Errorf("service %s: depends_on settings = %q, want service_completed_successfully", app.AppID, got)
			}
		})
	}

	// Every daprd in the file is the sidecar of an app of dapr.yaml.
	for name, s := range r.compose.Services {
		if strings.HasPrefix(s.Image, "daprio/daprd") {
			app := strings.TrimPrefix(s.NetworkMode, "service:")
			if !slices.ContainsFunc(r.run.Apps, func(a runfile.App) bool { return a.AppID == app }) {
				t.Errorf("%s runs daprd with network_mode %q, which is no app of dapr.yaml", name, s.NetworkMode)
			}
		}
	}
}

func composeLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// composeSameFile reports whether two files hold the same bytes.
func composeSameFile(tb testing.TB, a, b string) bool {
	tb.Helper()
	ra, err := os.ReadFile(a)
	if err != nil {
		tb.Errorf("%v", err)
		return false
	}
	rb, err := os.ReadFile(b)
	if err != nil {
		tb.Errorf("%v", err)
		return false
	}
	return bytes.Equal(ra, rb)
}

// composeResource is one Dapr resource document.
type composeResource struct {
	file string
	doc  map[string]any
}

// composeResources reads every Dapr resource in dir, keyed by kind/name.
func composeResources(tb testing.TB, dir string) map[string]composeResource {
	tb.Helper()
	files, err := filepath.Glob(filepath.Join(dir, "*.y*ml"))
	if err != nil || len(files) == 0 {
		tb.Fatalf("no resources in %s (%v)", dir, err)
	}
	out := map[string]composeResource{}
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			tb.Fatal(err)
		}
		dec := yaml.NewDecoder(bytes.NewReader(raw))
		for {
			var doc map[string]any
			if err := dec.Decode(&doc); err != nil {
				if errors.Is(err, io.EOF) {
					break
				}
				tb.Fatalf("%s: %v", f, err)
			}
			if doc == nil {
				continue
			}
			md, _ := doc["metadata"].(map[string]any)
			key := fmt.Sprintf("%v/%v", doc["kind"], md["name"])
			if prev, dup := out[key]; dup {
				tb.Fatalf("%s is in both %s and %s", key, prev.file, f)
			}
			out[key] = composeResource{file: f, doc: doc}
		}
	}
	return out
}

// composeMetadata returns a component's spec.metadata items.
func composeMetadata(doc map[string]any) []map[string]any {
	spec, _ := doc["spec"].(map[string]any)
	items, _ := spec["metadata"].([]any)
	var out []map[string]any
	for _, it := range items {
		if m, ok := it.(map[string]any); ok {
			out = append(out, m)
		}
	}
	return out
}

// composeSameResources checks that the Compose resources in got are the
// local ones in want (same kinds, names, types, scopes and metadata), but
// for redisHost, which must name the Compose Redis on the local port.
func composeSameResources(t *testing.T, r *composeRepo, want, got string) {
	t.Helper()
	if filepath.Clean(want) == filepath.Clean(got) {
		t.Errorf("the sidecars mount %s itself, whose redisHost (localhost) is no Redis inside Compose", r.composeRel(t, want))
		return
	}
	local, compose := composeResources(t, want), composeResources(t, got)
	for key := range compose {
		if _, ok := local[key]; !ok {
			t.Errorf("%s has %s, which %s has not", r.composeRel(t, got), key, r.composeRel(t, want))
		}
	}
	redisHost, _ := r.composeRedisAddr(t)
	for key, l := range local {
		c, ok := compose[key]
		if !ok {
			t.Errorf("%s has no %s (in %s)", r.composeRel(t, got), key, r.composeRel(t, l.file))
			continue
		}
		lDoc, cDoc := composeDeepCopy(l.doc), composeDeepCopy(c.doc)
		lItems, cItems := composeMetadata(lDoc), composeMetadata(cDoc)
		for i := range min(len(lItems), len(cItems)) {
			if lItems[i]["name"] != "redisHost" || cItems[i]["name"] != "redisHost" {
				continue
			}
			lh, lp, lerr := net.SplitHostPort(fmt.Sprint(lItems[i]["value"]))
			ch, cp, cerr := net.SplitHostPort(fmt.Sprint(cItems[i]["value"]))
			switch {
			case lerr != nil || cerr != nil:
				t.Errorf("%s: redisHost %v (local %v) is not host:port", key, cItems[i]["value"], lItems[i]["value"])
			case ch != redisHost || cp != lp:
				t.Errorf("%s: Compose redisHost = %s:%s, want %s:%s (the redis service, local port)", key, ch, cp, redisHost, lp)
			case !composeLoopback(lh):
				t.Errorf("%s: local redisHost %s is not loopback; the Compose copy assumes it is", key, lh)
			}
			lItems[i]["value"], cItems[i]["value"] = "<redis>", "<redis>"
		}
		if !reflect.DeepEqual(lDoc, cDoc) {
			lj, _ := json.Marshal(lDoc)
			cj, _ := json.Marshal(cDoc)
			t.Errorf("%s differs beyond redisHost:\n local   %s: %s\n compose %s: %s", key, r.composeRel(t, l.file), lj, r.composeRel(t, c.file), cj)
		}
	}
}

// composeDeepCopy copies a decoded YAML value.
func composeDeepCopy(v map[string]any) map[string]any {
	raw, _ := json.Marshal(v)
	var out map[string]any
	_ = json.Unmarshal(raw, &out)
	return out
}

// composeSecretFilesResolve checks that every local-file secret store in
// dir names a file the sidecar has mounted, resolved against daprd's
// working directory, and that it is the local test-mode secrets file.
func composeSecretFilesResolve(t *testing.T, r *composeRepo, name string, sc composeService, dir string) {
	t.Helper()
	for key, res := range composeResources(t, dir) {
		spec, _ := res.doc["spec"].(map[string]any)
		if spec["type"] != "secretstores.local.file" {
			continue
		}
		for _, it := range composeMetadata(res.doc) {
			if it["name"] != "secretsFile" {
				continue
			}
			inside := fmt.Sprint(it["value"])
			if !path.IsAbs(inside) {
				inside = path.Join(composeDaprdWorkdir, inside)
			}
			host, ok := r.composeHostPath(sc, inside)
			if !ok {
				t.Errorf("%s: %s's secretsFile is %s inside the sidecar, which no bind mount holds", name, key, inside)
				continue
			}
			if !composeSameFile(t, host, filepath.Join(r.root, "config", "test-mode-secrets.json")) {
				t.Errorf("%s: %s's secretsFile (%s, %s on the host) is not config/test-mode-secrets.json", name, key, inside, r.composeRel(t, host))
			}
		}
	}
}

// TestComposeRuntimeSettings checks the one-shot seeding service: it is the
// launcher's -seed-only run against the Compose Redis, after Redis is up,
// and its settings are config/runtime-settings.yaml but for loopback URLs
// turned into Compose service names.
func TestComposeRuntimeSettings(t *testing.T) {
	r := composeLoad(t)
	name, svc := r.composeOneBuiltFrom(t, "tools/launcher")
	if name != "settings" {
		t.Errorf("the seeding service is %q; the apps wait for \"settings\"", name)
	}
	flags := composeFlags(svc.Command)
	redisHost, redisPort := r.composeRedisAddr(t)
	if composeFlag(flags, "seed-only") != "true" {
		t.Errorf("%s: command %q lacks -seed-only", name, svc.Command)
	}
	if got, want := composeFlag(flags, "redis"), net.JoinHostPort(redisHost, redisPort); got != want {
		t.Errorf("%s: -redis = %q, want %q", name, got, want)
	}
	if got := svc.DependsOn["redis"]; got != "service_healthy" {
		t.Errorf("%s: depends_on redis = %q, want service_healthy", name, got)
	}
	if svc.Restart != "" && svc.Restart != "no" {
		t.Errorf("%s: restart = %q: a one-shot must not be restarted", name, svc.Restart)
	}
	seed := composeFlag(flags, "seed-settings")
	host, ok := r.composeHostPath(svc, seed)
	if !ok {
		t.Fatalf("%s: -seed-settings %q is not bind-mounted", name, seed)
	}
	local := composeSettings(t, filepath.Join(r.root, "config", "runtime-settings.yaml"))
	compose := composeSettings(t, host)
	for k := range compose {
		if _, ok := local[k]; !ok {
			t.Errorf("%s has %s, which config/runtime-settings.yaml has not", r.composeRel(t, host), k)
		}
	}
	for k, lv := range local {
		cv, ok := compose[k]
		switch {
		case !ok:
			t.Errorf("%s lacks %s", r.composeRel(t, host), k)
		case reflect.DeepEqual(lv, cv):
		default:
			if err := composeSameURLButHost(r, fmt.Sprint(lv), fmt.Sprint(cv)); err != nil {
				t.Errorf("%s: Compose %v, local %v: %v", k, cv, lv, err)
			}
		}
	}

	// Every setting that points at the simulator under `make run` (the
	// razorpay service's API base URL) points at the Compose simulator.
	simName, sim := r.composeOneBuiltFrom(t, "tools/rzpsim")
	_, simPort, err := net.SplitHostPort(composeFlag(composeFlags(sim.Command), "addr"))
	if err != nil {
		t.Fatalf("%s: -addr: %v", simName, err)
	}
	pointing := 0
	for k, lv := range local {
		u, err := url.Parse(fmt.Sprint(lv))
		if err != nil || !composeLoopback(u.Hostname()) || u.Port() != strconv.Itoa(composeSimulatorPort) {
			continue
		}
		pointing++
		u.Host = net.JoinHostPort(simName, simPort)
		if got, want := fmt.Sprint(compose[k]), u.String(); got != want {
			t.Errorf("%s = %q, want %q (the simulator's service)", k, got, want)
		}
	}
	if pointing == 0 {
		t.Errorf("config/runtime-settings.yaml has no URL of the simulator (127.0.0.1:%d) to check", composeSimulatorPort)
	}
}

// composeSettings reads a runtime settings file.
func composeSettings(tb testing.TB, file string) map[string]any {
	tb.Helper()
	raw, err := os.ReadFile(file)
	if err != nil {
		tb.Fatal(err)
	}
	var m map[string]any
	if err := yaml.Unmarshal(raw, &m); err != nil {
		tb.Fatalf("%s: %v", file, err)
	}
	if len(m) == 0 {
		tb.Fatalf("%s holds no settings", file)
	}
	return m
}

// composeSameURLButHost says why two URLs differ in more than a loopback
// host (local) turned into a Compose service (compose); nil when they
// don't.
func composeSameURLButHost(r *composeRepo, local, compose string) error {
	lu, lerr := url.Parse(local)
	cu, cerr := url.Parse(compose)
	if lerr != nil || cerr != nil || lu.Host == "" || cu.Host == "" {
		return errors.New("they differ and are not both URLs")
	}
	if !composeLoopback(lu.Hostname()) {
		return fmt.Errorf("local host %s is not loopback", lu.Hostname())
	}
	if _, ok := r.compose.Services[cu.Hostname()]; !ok {
		return fmt.Errorf("host %s is no Compose service", cu.Hostname())
	}
	lu.Host, cu.Host = lu.Port(), cu.Port()
	if *lu != *cu {
		return errors.New("they differ in more than the host")
	}
	return nil
}

// TestComposeSimulator checks the Razorpay simulator: as `make run` starts
// it (port 8090, webhooks to the gateway, the test-mode secrets) but
// listening on every interface of its container.
func TestComposeSimulator(t *testing.T) {
	r := composeLoad(t)
	name, svc := r.composeOneBuiltFrom(t, "tools/rzpsim")
	flags := composeFlags(svc.Command)
	host, port, err := net.SplitHostPort(composeFlag(flags, "addr"))
	if err != nil {
		t.Fatalf("%s: -addr %q: %v", name, composeFlag(flags, "addr"), err)
	}
	if host != "" && host != "0.0.0.0" && host != "::" {
		t.Errorf("%s: -addr host %s: the gateway and the published port cannot reach it", name, host)
	}
	if port != strconv.Itoa(composeSimulatorPort) {
		t.Errorf("%s: -addr port %s, want %d", name, port, composeSimulatorPort)
	}
	var gw *runfile.App
	for i := range r.run.Apps {
		if r.run.Apps[i].AppID == "gateway" {
			gw = &r.run.Apps[i]
		}
	}
	if gw == nil {
		t.Fatal("dapr.yaml has no gateway")
	}
	if got, want := composeFlag(flags, "webhook"), fmt.Sprintf("http://gateway:%d/razorpay/webhook", gw.AppPort); got != want {
		t.Errorf("%s: -webhook = %q, want %q", name, got, want)
	}
	secrets := composeFlag(flags, "secrets")
	if h, ok := r.composeHostPath(svc, secrets); !ok {
		t.Errorf("%s: -secrets %q is not bind-mounted", name, secrets)
	} else if !composeSameFile(t, h, filepath.Join(r.root, "config", "test-mode-secrets.json")) {
		t.Errorf("%s: -secrets %s is %s, not config/test-mode-secrets.json", name, secrets, r.composeRel(t, h))
	}
}

// TestComposeRedis checks the Redis every component and the gateway's
// rate limiter use: append-only persistence on a named volume, and a
// health check that the apps and sidecars wait for.
func TestComposeRedis(t *testing.T) {
	r := composeLoad(t)
	s := r.compose.Services["redis"]
	if !strings.HasPrefix(s.Image, "redis:7") {
		t.Errorf("redis: image = %q, want redis:7 (e.g. redis:7-alpine)", s.Image)
	}
	if got := composeFlag(composeFlags(s.Command), "appendonly"); got != "yes" {
		t.Errorf("redis: --appendonly = %q in %q, want yes", got, s.Command)
	}
	data := slices.IndexFunc(s.Volumes, func(m composeMount) bool { return path.Clean(m.Target) == "/data" })
	if data < 0 {
		t.Errorf("redis: nothing mounted at /data; the append-only file would die with the container")
	} else if v := s.Volumes[data]; v.composeBind() || v.Source == "" {
		t.Errorf("redis: /data is %q, want a named volume", v.Source)
	} else if _, ok := r.compose.Volumes[v.Source]; !ok {
		t.Errorf("redis: volume %q is not declared under volumes", v.Source)
	}
	if s.Healthcheck == nil || !slices.Contains(s.Healthcheck.Test, "ping") {
		t.Errorf("redis: healthcheck %+v, want redis-cli ping", s.Healthcheck)
	}
	for name, svc := range r.compose.Services {
		if svc.Environment["REDIS_ADDR"] != "" || strings.HasPrefix(svc.Image, "daprio/daprd") {
			if got := svc.DependsOn["redis"]; got != "service_healthy" {
				t.Errorf("%s: depends_on redis = %q, want service_healthy", name, got)
			}
		}
	}
}

// TestComposePublishedPorts checks that only the gateway's port and the
// simulator's are published, each on the same port as under `make run`.
func TestComposePublishedPorts(t *testing.T) {
	r := composeLoad(t)
	var gatewayPort int
	for _, a := range r.run.Apps {
		if a.AppID == "gateway" {
			gatewayPort = a.AppPort
		}
	}
	simName, _ := r.composeOneBuiltFrom(t, "tools/rzpsim")
	want := map[string]string{
		"gateway": fmt.Sprintf("%d:%d", gatewayPort, gatewayPort),
		simName:   fmt.Sprintf("%d:%d", composeSimulatorPort, composeSimulatorPort),
	}
	// Each can be moved (make compose-test publishes them on free ports).
	raw, err := os.ReadFile(filepath.Join(r.root, "docker-compose.yml"))
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range []string{"FINFLOW_GATEWAY_PORT", "FINFLOW_SIMULATOR_PORT"} {
		if !bytes.Contains(raw, []byte("${"+v+":-")) {
			t.Errorf("docker-compose.yml does not read %s: a published port cannot be moved off one another FinFlow uses", v)
		}
	}
	got := map[string]string{}
	for name, s := range r.compose.Services {
		if s.NetworkMode == "host" {
			t.Errorf("%s: network_mode host publishes every port it listens on", name)
		}
		for _, p := range s.Ports {
			if _, dup := got[name]; dup {
				t.Errorf("%s publishes more than one port", name)
			}
			got[name] = p.Published + ":" + p.Target
		}
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("published ports (service: host:container) = %v, want %v", got, want)
	}
}

// composeStage is one stage of a Dockerfile.
type composeStage struct {
	base, name string
	// instructions are [keyword, rest of line], continuations joined.
	instructions [][2]string
}

// composeDockerfile parses a Dockerfile into its stages, with the ARG
// defaults declared before the first FROM substituted in FROM lines.
func composeDockerfile(tb testing.TB, file string) []composeStage {
	tb.Helper()
	raw, err := os.ReadFile(file)
	if err != nil {
		tb.Fatalf("%v", err)
	}
	var lines []string
	var cur strings.Builder
	for _, l := range strings.Split(string(raw), "\n") {
		trimmed := strings.TrimSpace(l)
		if strings.HasPrefix(trimmed, "#") || (trimmed == "" && cur.Len() == 0) {
			continue
		}
		if strings.HasSuffix(trimmed, "\\") {
			cur.WriteString(strings.TrimSuffix(trimmed, "\\") + " ")
			continue
		}
		cur.WriteString(trimmed)
		lines = append(lines, cur.String())
		cur.Reset()
	}
	globalArgs := map[string]string{}
	var stages []composeStage
	for _, l := range lines {
		kw, rest, _ := strings.Cut(l, " ")
		kw, rest = strings.ToUpper(kw), strings.TrimSpace(rest)
		switch {
		case kw == "ARG" && len(stages) == 0:
			k, v, _ := strings.Cut(rest, "=")
			globalArgs[k] = strings.Trim(v, `"`)
		case kw == "FROM":
			fields := strings.Fields(os.Expand(rest, func(k string) string { return globalArgs[k] }))
			fields = slices.DeleteFunc(fields, func(f string) bool { return strings.HasPrefix(f, "--") })
			st := composeStage{base: fields[0]}
			if len(fields) == 3 && strings.EqualFold(fields[1], "AS") {
				st.name = fields[2]
			}
			stages = append(stages, st)
		case len(stages) == 0:
			tb.Fatalf("%s: %s before the first FROM", file, kw)
		default:
			st := &stages[len(stages)-1]
			st.instructions = append(st.instructions, [2]string{kw, rest})
		}
	}
	if len(stages) == 0 {
		tb.Fatalf("%s has no FROM", file)
	}
	return stages
}

// composeGoVersion parses "1.25", "1.24.3" or "1.25-bookworm" into numbers.
func composeGoVersion(s string) []int {
	s, _, _ = strings.Cut(s, "-")
	var out []int
	for _, p := range strings.Split(s, ".") {
		n, err := strconv.Atoi(p)
		if err != nil {
			return nil
		}
		out = append(out, n)
	}
	return out
}

// composeVersionString writes a parsed version back as "1.25.3".
func composeVersionString(v []int) string {
	parts := make([]string, len(v))
	for i, n := range v {
		parts[i] = strconv.Itoa(n)
	}
	return strings.Join(parts, ".")
}

// composeWorkspace reads go.work: its go version and the folders it uses.
func composeWorkspace(tb testing.TB, root string) (goVersion string, uses []string) {
	tb.Helper()
	raw, err := os.ReadFile(filepath.Join(root, "go.work"))
	if err != nil {
		tb.Fatal(err)
	}
	inUse := false
	for _, l := range strings.Split(string(raw), "\n") {
		l, _, _ = strings.Cut(l, "//")
		f := strings.Fields(l)
		switch {
		case len(f) == 0:
		case inUse && f[0] == ")":
			inUse = false
		case inUse:
			uses = append(uses, path.Clean(f[0]))
		case f[0] == "go" && len(f) == 2:
			goVersion = f[1]
		case f[0] == "use" && len(f) == 2 && f[1] == "(":
			inUse = true
		case f[0] == "use" && len(f) == 2:
			uses = append(uses, path.Clean(f[1]))
		}
	}
	if goVersion == "" || len(uses) == 0 {
		tb.Fatalf("go.work: go %q, use %q: cannot read it", goVersion, uses)
	}
	return goVersion, uses
}

// composeModuleGo reads the module path and go version of dir/go.mod.
func composeModuleGo(tb testing.TB, dir string) (module, goVersion string) {
	tb.Helper()
	raw, err := os.ReadFile(filepath.Join(dir, "go.mod"))
	if err != nil {
		tb.Fatal(err)
	}
	for _, l := range strings.Split(string(raw), "\n") {
		f := strings.Fields(l)
		if len(f) == 2 && f[0] == "module" {
			module = f[1]
		}
		if len(f) == 2 && f[0] == "go" {
			goVersion = f[1]
		}
	}
	return module, goVersion
}

// TestComposeDockerfiles checks every Dockerfile the Compose file builds:
// a Go build stage new enough for the workspace, given every module go.work
// needs, making a static, trimmed binary; a final stage that is static and
// runs as a user other than root; and, for every service built with it,
// that the folders the Dockerfile copies hold every FinFlow package the
// binary imports.
func TestComposeDockerfiles(t *testing.T) {
	r := composeLoad(t)
	workGo, uses := composeWorkspace(t, r.root)
	modules := map[string]string{} // module path -> folder
	minGo := composeGoVersion(workGo)
	for _, u := range uses {
		mod, v := composeModuleGo(t, filepath.Join(r.root, u))
		modules[mod] = u
		if slices.Compare(composeGoVersion(v), minGo) > 0 {
			minGo = composeGoVersion(v)
		}
	}

	byFile := map[string][]string{} // Dockerfile -> services built with it
	for name, s := range r.compose.Services {
		if s.Build == nil {
			continue
		}
		df := filepath.Join(r.root, s.Build.Context, composeOr(s.Build.Dockerfile, "Dockerfile"))
		if filepath.Clean(filepath.Join(r.root, s.Build.Context)) != r.root {
			t.Errorf("%s: build context %q, want the repository root (go.work is there)", name, s.Build.Context)
		}
		byFile[df] = append(byFile[df], name)
	}
	if len(byFile) == 0 {
		t.Fatal("no service is built")
	}
	files := make([]string, 0, len(byFile))
	for df := range byFile {
		files = append(files, df)
	}
	sort.Strings(files)
	for _, df := range files {
		users := byFile[df]
		sort.Strings(users)
		t.Run(r.composeRel(t, df), func(t *testing.T) {
			stages := composeDockerfile(t, df)
			if len(stages) < 2 {
				t.Fatalf("%d stage(s), want a build stage and a final one", len(stages))
			}
			final := stages[len(stages)-1]

			// The final stage: static base, a binary from a build stage,
			// not root, exec-form entrypoint.
			if final.base != "scratch" && !strings.HasPrefix(final.base, "gcr.io/distroless/static") {
				t.Errorf("final stage FROM %s, want gcr.io/distroless/static... or scratch", final.base)
			}
			user := "0" // the default of scratch and of distroless without :nonroot
			if strings.HasSuffix(final.base, ":nonroot") {
				user = "65532"
			}
			var from, entrypoint string
			for _, in := range final.instructions {
				switch in[0] {
				case "USER":
					user = in[1]
				case "ENTRYPOINT":
					entrypoint = in[1]
				case "COPY":
					if m := regexp.MustCompile(`--from=(\S+)`).FindStringSubmatch(in[1]); m != nil {
						from = m[1]
					}
				case "RUN":
					t.Errorf("final stage runs %q: a static image has no shell", in[1])
				}
			}
			uid, _, _ := strings.Cut(user, ":")
			if uid == "" || uid == "0" || uid == "root" {
				t.Errorf("final stage runs as %q, want a user other than root", composeOr(user, "root"))
			}
			if _, err := strconv.Atoi(uid); err != nil && final.base == "scratch" {
				t.Errorf("USER %s on scratch: no /etc/passwd there, use a number", user)
			}
			if !strings.HasPrefix(entrypoint, "[") {
				t.Errorf("ENTRYPOINT %q, want the exec form [\"/...\"] (no shell in the image)", entrypoint)
			}
			build := -1
			for i, s := range stages[:len(stages)-1] {
				if from != "" && (s.name == from || strconv.Itoa(i) == from) {
					build = i
				}
			}
			if build < 0 {
				t.Fatalf("final stage copies from %q, which is no earlier stage", from)
			}

			// The build stage.
			st := stages[build]
			img, tag, _ := strings.Cut(st.base, ":")
			if strings.TrimPrefix(img, "docker.io/library/") != "golang" {
				t.Errorf("build stage FROM %s, want golang", st.base)
			}
			// A tag without a patch number is that minor version's latest.
			need := minGo
			v := composeGoVersion(tag)
			if len(v) < len(need) {
				need = need[:len(v)]
			}
			if v == nil || slices.Compare(v, need) < 0 {
				t.Errorf("build stage FROM %s: Go %s is older than the workspace needs (go.work and its modules: go %s)", st.base, tag, composeVersionString(minGo))
			}
			cgoOff, built := false, false
			copied := map[string]bool{}
			for _, in := range st.instructions {
				switch in[0] {
				case "ENV":
					cgoOff = cgoOff || regexp.MustCompile(`(^|\s)CGO_ENABLED[= ]0(\s|$)`).MatchString(in[1])
				case "COPY":
					f := strings.Fields(in[1])
					f = slices.DeleteFunc(f, func(s string) bool { return strings.HasPrefix(s, "--") })
					for _, src := range f[:len(f)-1] {
						copied[path.Clean(src)] = true
					}
				case "RUN":
					if !strings.Contains(in[1], "go build") {
						continue
					}
					built = true
					cgoOff = cgoOff || strings.Contains(in[1], "CGO_ENABLED=0")
					if !cgoOff {
						t.Errorf("go build with cgo possible: set CGO_ENABLED=0 for a static binary")
					}
					if !strings.Contains(in[1], "-trimpath") {
						t.Errorf("go build without -trimpath: %s", in[1])
					}
					ld := regexp.MustCompile(`-ldflags[= ]["']?([^"']*)`).FindStringSubmatch(in[1])
					if ld == nil || !slices.Contains(strings.Fields(ld[1]), "-s") || !slices.Contains(strings.Fields(ld[1]), "-w") {
						t.Errorf("go build without -ldflags \"-s -w\": %s", in[1])
					}
					// Everything go.work needs must be there by now.
					for _, need := range append([]string{"go.work"}, composeGoMods(uses)...) {
						if !copied[need] && !copied[path.Dir(need)] && !copied["."] {
							t.Errorf("%s is not copied before go build; go.work needs it", need)
						}
					}
				}
			}
			if !built {
				t.Fatalf("stage %s never runs go build", composeOr(st.name, st.base))
			}

			for _, name := range users {
				service := r.compose.Services[name].Build.Args["SERVICE"]
				t.Run(name, func(t *testing.T) {
					if service == "" {
						t.Fatalf("%s: no build arg SERVICE", name)
					}
					var dirs []string
					for src := range copied {
						dirs = append(dirs, path.Clean(strings.ReplaceAll(strings.ReplaceAll(src, "${SERVICE}", service), "$SERVICE", service)))
					}
					if !slices.Contains(dirs, path.Clean(service)) && !slices.Contains(dirs, ".") {
						t.Fatalf("%s is not copied into the build stage", service)
					}
					composeImportsCopied(t, r.root, service, dirs, modules)
				})
			}
		})
	}
}

// composeGoMods lists the go.mod of every workspace folder.
func composeGoMods(uses []string) []string {
	var out []string
	for _, u := range uses {
		out = append(out, path.Join(u, "go.mod"))
	}
	return out
}

// composeImportsCopied checks that every FinFlow package reachable from
// the main package in dir lies in one of the copied folders.
func composeImportsCopied(t *testing.T, root, dir string, copied []string, modules map[string]string) {
	t.Helper()
	inCopied := func(p string) bool {
		return slices.ContainsFunc(copied, func(c string) bool { return c == "." || p == c || strings.HasPrefix(p, c+"/") })
	}
	seen := map[string]bool{}
	queue := []string{dir}
	mains := 0
	for len(queue) > 0 {
		pkg := queue[0]
		queue = queue[1:]
		if seen[pkg] {
			continue
		}
		seen[pkg] = true
		if !inCopied(pkg) {
			t.Errorf("%s imports %s, which the Dockerfile does not copy", dir, pkg)
			continue
		}
		files, _ := filepath.Glob(filepath.Join(root, pkg, "*.go"))
		found := false
		for _, f := range files {
			if strings.HasSuffix(f, "_test.go") {
				continue
			}
			pf, err := parser.ParseFile(token.NewFileSet(), f, nil, parser.ImportsOnly)
			if err != nil {
				t.Fatalf("%s: %v", f, err)
			}
			found = true
			if pkg == dir && pf.Name.Name == "main" {
				mains++
			}
			for _, im := range pf.Imports {
				p, _ := strconv.Unquote(im.Path.Value)
				if !strings.HasPrefix(p, composeModulePrefix) {
					continue
				}
				best := ""
				for mod := range modules {
					if (p == mod || strings.HasPrefix(p, mod+"/")) && len(mod) > len(best) {
						best = mod
					}
				}
				if best == "" {
					t.Errorf("%s imports %s, which is in no module of go.work", pkg, p)
					continue
				}
				queue = append(queue, path.Join(modules[best], strings.TrimPrefix(p, best)))
			}
		}
		if !found {
			t.Errorf("%s has no Go files", pkg)
		}
	}
	if mains == 0 {
		t.Errorf("%s is not a main package", dir)
	}
}

// composeDockerignore is a .dockerignore pattern.
type composeDockerignore struct {
	re     *regexp.Regexp
	negate bool
}

// TestComposeDockerignore checks that .dockerignore leaves in the build
// context every file the Dockerfile's build needs: go.work, go.work.sum and
// each workspace module's go.mod and go.sum.
func TestComposeDockerignore(t *testing.T) {
	r := composeLoad(t)
	raw, err := os.ReadFile(filepath.Join(r.root, ".dockerignore"))
	if err != nil {
		t.Fatal(err)
	}
	var patterns []composeDockerignore
	for _, l := range strings.Split(string(raw), "\n") {
		l = strings.TrimSpace(l)
		if l == "" || strings.HasPrefix(l, "#") {
			continue
		}
		p := composeDockerignore{negate: strings.HasPrefix(l, "!")}
		glob := path.Clean(strings.TrimPrefix(strings.TrimPrefix(l, "!"), "/"))
		var re strings.Builder
		for i := 0; i < len(glob); i++ {
			switch {
			case strings.HasPrefix(glob[i:], "**"):
				re.WriteString(".*")
				i++
			case glob[i] == '*':
				re.WriteString("[^/]*")
			case glob[i] == '?':
				re.WriteString("[^/]")
			default:
				re.WriteString(regexp.QuoteMeta(string(glob[i])))
			}
		}
		// A pattern that matches a folder excludes what is in it.
		p.re = regexp.MustCompile("^" + re.String() + "(/.*)?$")
		patterns = append(patterns, p)
	}
	_, uses := composeWorkspace(t, r.root)
	needed := []string{"go.work", "go.work.sum"}
	for _, u := range uses {
		needed = append(needed, path.Join(u, "go.mod"), path.Join(u, "go.sum"))
	}
	// The sources of every binary Compose builds, and of platform.
	dirs := []string{"platform"}
	for _, s := range r.compose.Services {
		if s.Build != nil && s.Build.Args["SERVICE"] != "" {
			dirs = append(dirs, s.Build.Args["SERVICE"])
		}
	}
	for _, dir := range dirs {
		files, _ := filepath.Glob(filepath.Join(r.root, dir, "*.go"))
		if len(files) == 0 {
			t.Errorf("%s has no Go files", dir)
		}
		for _, f := range files {
			needed = append(needed, r.composeRel(t, f))
		}
	}
	for _, f := range needed {
		if _, err := os.Stat(filepath.Join(r.root, f)); err != nil {
			continue // not in the repository: nothing to keep
		}
		excluded := false
		for _, p := range patterns {
			if p.re.MatchString(f) {
				excluded = !p.negate
			}
		}
		if excluded {
			t.Errorf(".dockerignore leaves %s out of the build context", f)
		}
	}
}
