package deploy

// The Kubernetes manifests in deploy/kubernetes, checked without a cluster:
// every manifest is parsed and held against dapr.yaml (apps, ports, sidecar
// settings), components/*.yaml and config/ (the local Dapr resources the
// Kubernetes ones must mirror), and the services' health routes.

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/finflow/finflow/tools/launcher/runfile"
)

const (
	// k8sDir holds the manifests, relative to the repository root.
	k8sDir = "deploy/kubernetes"
	// k8sNamespace is where every FinFlow object lives.
	k8sNamespace = "finflow"
	// k8sRedisHost is the in-cluster Redis the components use.
	k8sRedisHost = "redis.finflow.svc.cluster.local:6379"
	// k8sLivenessPath and k8sReadinessPath are the probes every service
	// answers (platform/service).
	k8sLivenessPath  = "/healthz"
	k8sReadinessPath = "/readyz"
	// k8sTestModeMarker marks every placeholder value of a Secret, and
	// k8sTestModeLabel every Secret that holds them.
	k8sTestModeMarker = "TEST-MODE"
	k8sTestModeLabel  = "finflow.io/test-mode"
	// k8sPublicApp is the one app reached from outside, not through Dapr.
	k8sPublicApp = "gateway"
)

// k8sDaprAnnotations are the pod annotations Dapr 1.14's sidecar injector
// reads (pkg/injector/patcher/sidecar.go): any other dapr.io/ key is a typo
// that Dapr would silently ignore.
var k8sDaprAnnotations = []string{
	"dapr.io/enabled", "dapr.io/app-port", "dapr.io/config", "dapr.io/app-protocol",
	"dapr.io/app-ssl", "dapr.io/app-id", "dapr.io/enable-profiling", "dapr.io/log-level",
	"dapr.io/api-token-secret", "dapr.io/app-token-secret", "dapr.io/log-as-json",
	"dapr.io/app-max-concurrency", "dapr.io/enable-metrics", "dapr.io/metrics-port",
	"dapr.io/enable-debug", "dapr.io/debug-port", "dapr.io/env", "dapr.io/sidecar-cpu-request",
	"dapr.io/sidecar-cpu-limit", "dapr.io/sidecar-memory-request", "dapr.io/sidecar-memory-limit",
	"dapr.io/sidecar-listen-addresses",
	"dapr.io/sidecar-liveness-probe-delay-seconds", "dapr.io/sidecar-liveness-probe-timeout-seconds",
	"dapr.io/sidecar-liveness-probe-period-seconds", "dapr.io/sidecar-liveness-probe-threshold",
	"dapr.io/sidecar-readiness-probe-delay-seconds", "dapr.io/sidecar-readiness-probe-timeout-seconds",
	"dapr.io/sidecar-readiness-probe-period-seconds", "dapr.io/sidecar-readiness-probe-threshold",
	"dapr.io/sidecar-image", "dapr.io/sidecar-seccomp-profile-type", "dapr.io/http-max-request-size",
	"dapr.io/max-body-size", "dapr.io/http-read-buffer-size", "dapr.io/read-buffer-size",
	"dapr.io/graceful-shutdown-seconds", "dapr.io/block-shutdown-duration", "dapr.io/enable-api-logging",
	"dapr.io/unix-domain-socket-path", "dapr.io/volume-mounts", "dapr.io/volume-mounts-rw",
	"dapr.io/disable-builtin-k8s-secret-store", "dapr.io/enable-app-health-check",
	"dapr.io/app-health-check-path", "dapr.io/app-health-probe-interval", "dapr.io/app-health-probe-timeout",
	"dapr.io/app-health-threshold", "dapr.io/placement-host-address", "dapr.io/scheduler-host-address",
	"dapr.io/pluggable-components", "dapr.io/pluggable-components-sockets-folder",
	"dapr.io/component-container", "dapr.io/inject-pluggable-components", "dapr.io/app-channel-address",
}

// k8sMeta is an object's metadata.
type k8sMeta struct {
	Name        string            `yaml:"name"`
	Namespace   string            `yaml:"namespace"`
	Labels      map[string]string `yaml:"labels"`
	Annotations map[string]string `yaml:"annotations"`
}

// k8sObject is one parsed YAML document: its header, and its node to decode
// the rest from.
type k8sObject struct {
	APIVersion string  `yaml:"apiVersion"`
	Kind       string  `yaml:"kind"`
	Metadata   k8sMeta `yaml:"metadata"`
	file       string
	node       *yaml.Node
}

func (o k8sObject) String() string {
	return fmt.Sprintf("%s %q (%s)", o.Kind, o.Metadata.Name, o.file)
}

// decode decodes the whole object into v.
func (o k8sObject) decode(tb testing.TB, v any) {
	tb.Helper()
	if err := o.node.Decode(v); err != nil {
		tb.Fatalf("decoding %s: %v", o, err)
	}
}

// k8sManifests is a set of parsed objects.
type k8sManifests []k8sObject

// kind returns the objects of one kind.
func (m k8sManifests) kind(kind string) k8sManifests {
	var out k8sManifests
	for _, o := range m {
		if o.Kind == kind {
			out = append(out, o)
		}
	}
	return out
}

// get returns the object of that kind and name.
func (m k8sManifests) get(kind, name string) (k8sObject, bool) {
	for _, o := range m {
		if o.Kind == kind && o.Metadata.Name == name {
			return o, true
		}
	}
	return k8sObject{}, false
}

type k8sPodSpec struct {
	ServiceAccountName string             `yaml:"serviceAccountName"`
	SecurityContext    k8sSecurityContext `yaml:"securityContext"`
	Containers         []k8sContainer     `yaml:"containers"`
}

type k8sSecurityContext struct {
	RunAsNonRoot             *bool  `yaml:"runAsNonRoot"`
	RunAsUser                *int64 `yaml:"runAsUser"`
	AllowPrivilegeEscalation *bool  `yaml:"allowPrivilegeEscalation"`
	ReadOnlyRootFilesystem   *bool  `yaml:"readOnlyRootFilesystem"`
	Capabilities             struct {
		Drop []string `yaml:"drop"`
	} `yaml:"capabilities"`
}

type k8sKeyRef struct {
	Name string `yaml:"name"`
	Key  string `yaml:"key"`
}

type k8sEnvVar struct {
	Name      string `yaml:"name"`
	Value     string `yaml:"value"`
	ValueFrom *struct {
		SecretKeyRef *k8sKeyRef `yaml:"secretKeyRef"`
	} `yaml:"valueFrom"`
}

type k8sProbe struct {
	HTTPGet *struct {
		Path string `yaml:"path"`
		Port any    `yaml:"port"`
	} `yaml:"httpGet"`
}

type k8sContainer struct {
	Name  string `yaml:"name"`
	Image string `yaml:"image"`
	Ports []struct {
		Name          string `yaml:"name"`
		ContainerPort int    `yaml:"containerPort"`
	} `yaml:"ports"`
	Env            []k8sEnvVar `yaml:"env"`
	LivenessProbe  *k8sProbe   `yaml:"livenessProbe"`
	ReadinessProbe *k8sProbe   `yaml:"readinessProbe"`
	Resources      struct {
		Requests map[string]string `yaml:"requests"`
		Limits   map[string]string `yaml:"limits"`
	} `yaml:"resources"`
	SecurityContext k8sSecurityContext `yaml:"securityContext"`
}

// env returns the container's variable name, if set.
func (c k8sContainer) env(name string) (k8sEnvVar, bool) {
	for _, e := range c.Env {
		if e.Name == name {
			return e, true
		}
	}
	return k8sEnvVar{}, false
}

// port resolves a probe's or a Service's port (a number or a port name) to
// a number, or 0.
func (c k8sContainer) port(p any) int {
	switch p := p.(type) {
	case int:
		return p
	case string:
		for _, cp := range c.Ports {
			if cp.Name == p {
				return cp.ContainerPort
			}
		}
		if n, err := strconv.Atoi(p); err == nil {
			return n
		}
	}
	return 0
}

type k8sDeployment struct {
	Spec struct {
		Replicas *int `yaml:"replicas"`
		Selector struct {
			MatchLabels map[string]string `yaml:"matchLabels"`
		} `yaml:"selector"`
		Template struct {
			Metadata k8sMeta    `yaml:"metadata"`
			Spec     k8sPodSpec `yaml:"spec"`
		} `yaml:"template"`
	} `yaml:"spec"`
}

type k8sService struct {
	Spec struct {
		Type     string            `yaml:"type"`
		Selector map[string]string `yaml:"selector"`
		Ports    []struct {
			Name       string `yaml:"name"`
			Port       int    `yaml:"port"`
			TargetPort any    `yaml:"targetPort"`
		} `yaml:"ports"`
	} `yaml:"spec"`
}

type k8sComponentItem struct {
	Name         string     `yaml:"name"`
	Value        *string    `yaml:"value"`
	SecretKeyRef *k8sKeyRef `yaml:"secretKeyRef"`
}

type k8sComponent struct {
	Spec struct {
		Type     string             `yaml:"type"`
		Version  string             `yaml:"version"`
		Metadata []k8sComponentItem `yaml:"metadata"`
	} `yaml:"spec"`
	Scopes []string `yaml:"scopes"`
}

// item returns the metadata item of that name.
func (c k8sComponent) item(name string) (k8sComponentItem, bool) {
	for _, it := range c.Spec.Metadata {
		if it.Name == name {
			return it, true
		}
	}
	return k8sComponentItem{}, false
}

type k8sConfiguration struct {
	Spec struct {
		Tracing struct {
			SamplingRate *string `yaml:"samplingRate"`
		} `yaml:"tracing"`
		Metric struct {
			Enabled *bool `yaml:"enabled"`
		} `yaml:"metric"`
		AccessControl map[string]any `yaml:"accessControl"`
	} `yaml:"spec"`
}

type k8sSecret struct {
	Data       map[string]string `yaml:"data"`
	StringData map[string]string `yaml:"stringData"`
}

type k8sHPA struct {
	Spec struct {
		ScaleTargetRef struct {
			APIVersion string `yaml:"apiVersion"`
			Kind       string `yaml:"kind"`
			Name       string `yaml:"name"`
		} `yaml:"scaleTargetRef"`
		MinReplicas *int `yaml:"minReplicas"`
		MaxReplicas int  `yaml:"maxReplicas"`
		Metrics     []struct {
			Type     string `yaml:"type"`
			Resource *struct {
				Name   string `yaml:"name"`
				Target struct {
					Type               string `yaml:"type"`
					AverageUtilization int    `yaml:"averageUtilization"`
				} `yaml:"target"`
			} `yaml:"resource"`
		} `yaml:"metrics"`
	} `yaml:"spec"`
}

type k8sRole struct {
	Rules []struct {
		APIGroups     []string `yaml:"apiGroups"`
		Resources     []string `yaml:"resources"`
		ResourceNames []string `yaml:"resourceNames"`
		Verbs         []string `yaml:"verbs"`
	} `yaml:"rules"`
}

type k8sRoleBinding struct {
	Subjects []struct {
		Kind      string `yaml:"kind"`
		Name      string `yaml:"name"`
		Namespace string `yaml:"namespace"`
	} `yaml:"subjects"`
	RoleRef struct {
		Kind string `yaml:"kind"`
		Name string `yaml:"name"`
	} `yaml:"roleRef"`
}

// k8sRoot returns the repository root (this package is tests/deploy).
func k8sRoot(tb testing.TB) string {
	tb.Helper()
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		tb.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "dapr.yaml")); err != nil {
		tb.Fatalf("repository root not found from the test's folder: %v", err)
	}
	return root
}

// k8sReadObjects parses every document of a (multi-document) YAML file.
func k8sReadObjects(tb testing.TB, path string) k8sManifests {
	tb.Helper()
	f, err := os.Open(path)
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	rel := path
	if r, err := filepath.Rel(k8sRoot(tb), path); err == nil {
		rel = r
	}
	var out k8sManifests
	dec := yaml.NewDecoder(f)
	for i := 0; ; i++ {
		node := new(yaml.Node)
		err := dec.Decode(node)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			tb.Fatalf("parsing %s, document %d: %v", rel, i, err)
		}
		if len(node.Content) == 0 || node.Content[0].Tag == "!!null" {
			continue // a document of comments only
		}
		o := k8sObject{file: rel, node: node}
		if err := node.Decode(&o); err != nil {
			tb.Fatalf("parsing %s, document %d: %v", rel, i, err)
		}
		if o.APIVersion == "" || o.Kind == "" || o.Metadata.Name == "" {
			tb.Fatalf("%s, document %d: apiVersion, kind and metadata.name are required", rel, i)
		}
		out = append(out, o)
	}
	return out
}

// k8sKustomizationResources returns the files kustomization.yaml lists.
func k8sKustomizationResources(tb testing.TB) []string {
	tb.Helper()
	raw, err := os.ReadFile(filepath.Join(k8sRoot(tb), k8sDir, "kustomization.yaml"))
	if err != nil {
		tb.Fatal(err)
	}
	var k struct {
		Resources []string `yaml:"resources"`
	}
	if err := yaml.Unmarshal(raw, &k); err != nil {
		tb.Fatalf("parsing kustomization.yaml: %v", err)
	}
	return k.Resources
}

// k8sLoad parses every manifest kustomization.yaml lists.
func k8sLoad(tb testing.TB) k8sManifests {
	tb.Helper()
	var all k8sManifests
	for _, r := range k8sKustomizationResources(tb) {
		all = append(all, k8sReadObjects(tb, filepath.Join(k8sRoot(tb), k8sDir, r))...)
	}
	if len(all) == 0 {
		tb.Fatal("no Kubernetes objects in " + k8sDir)
	}
	return all
}

// k8sLoadLocal parses the local Dapr resources: components/*.yaml.
func k8sLoadLocal(tb testing.TB) k8sManifests {
	tb.Helper()
	files, err := filepath.Glob(filepath.Join(k8sRoot(tb), "components", "*.yaml"))
	if err != nil || len(files) == 0 {
		tb.Fatalf("no local components found: %v", err)
	}
	var all k8sManifests
	for _, f := range files {
		all = append(all, k8sReadObjects(tb, f)...)
	}
	return all
}

// k8sApps returns dapr.yaml's apps, merged with its common section.
func k8sApps(tb testing.TB) []runfile.App {
	tb.Helper()
	f, err := runfile.Load(filepath.Join(k8sRoot(tb), "dapr.yaml"))
	if err != nil {
		tb.Fatalf("loading dapr.yaml: %v", err)
	}
	return f.Apps
}

// k8sAppDeployment returns the Deployment of a Dapr app, by name.
func k8sAppDeployment(tb testing.TB, m k8sManifests, appID string) (k8sObject, k8sDeployment) {
	tb.Helper()
	o, ok := m.get("Deployment", appID)
	if !ok {
		tb.Fatalf("no Deployment %q for the dapr.yaml app %s", appID, appID)
	}
	var d k8sDeployment
	o.decode(tb, &d)
	return o, d
}

// k8sAppContainer returns the container serving the app port: the one
// container of the manifest (Dapr injects the sidecar at admission).
func k8sAppContainer(tb testing.TB, d k8sDeployment, appID string) k8sContainer {
	tb.Helper()
	cs := d.Spec.Template.Spec.Containers
	if len(cs) != 1 {
		tb.Fatalf("Deployment %s has %d containers, want 1 (the app; Dapr injects daprd)", appID, len(cs))
	}
	return cs[0]
}

// k8sSecretKey reports whether Secret name holds key.
func k8sSecretKey(tb testing.TB, m k8sManifests, name, key string) error {
	tb.Helper()
	o, ok := m.get("Secret", name)
	if !ok {
		return fmt.Errorf("no Secret %q", name)
	}
	var s k8sSecret
	o.decode(tb, &s)
	if _, ok := s.StringData[key]; ok {
		return nil
	}
	if _, ok := s.Data[key]; ok {
		return nil
	}
	return fmt.Errorf("Secret %q has no key %q", name, key)
}

// k8sIsTrue reports whether a pointer holds true.
func k8sIsTrue(b *bool) bool { return b != nil && *b }

// k8sSorted returns a sorted copy.
func k8sSorted(s []string) []string {
	out := slices.Clone(s)
	slices.Sort(out)
	return out
}

// k8sKeys returns a map's keys, sorted.
func k8sKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// TestKubernetesKustomizationListsEveryManifest checks that
// `kubectl apply -k deploy/kubernetes` applies every manifest there, each
// object once, all in the finflow namespace.
func TestKubernetesKustomizationListsEveryManifest(t *testing.T) {
	root := k8sRoot(t)
	files, err := filepath.Glob(filepath.Join(root, k8sDir, "*.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var onDisk []string
	for _, f := range files {
		if b := filepath.Base(f); b != "kustomization.yaml" {
			onDisk = append(onDisk, b)
		}
	}
	listed := k8sKustomizationResources(t)
	if got, want := k8sSorted(listed), k8sSorted(onDisk); !slices.Equal(got, want) {
		t.Errorf("kustomization.yaml resources = %v, want every manifest in %s: %v", got, k8sDir, want)
	}

	m := k8sLoad(t)
	seen := map[string]string{}
	for _, o := range m {
		id := o.Kind + "/" + o.Metadata.Name
		if prev, dup := seen[id]; dup {
			t.Errorf("%s is defined twice (%s and %s)", id, prev, o.file)
		}
		seen[id] = o.file
		if o.Kind == "Namespace" {
			continue
		}
		if o.Metadata.Namespace != k8sNamespace {
			t.Errorf("%s: namespace = %q, want %q", o, o.Metadata.Namespace, k8sNamespace)
		}
	}
	if _, ok := m.get("Namespace", k8sNamespace); !ok {
		t.Errorf("no Namespace %q", k8sNamespace)
	}
}

// TestKubernetesDeploymentsMatchTheRunFile checks each dapr.yaml app's
// Deployment: Dapr's annotations as dapr.yaml sets the sidecar, the app
// port, probes on the health routes at that port, resources, a locked-down
// security context, and the tokens and secrets it refers to.
func TestKubernetesDeploymentsMatchTheRunFile(t *testing.T) {
	m := k8sLoad(t)
	apps := k8sApps(t)

	var ids []string
	for _, a := range apps {
		ids = append(ids, a.AppID)
	}
	var daprEnabled []string
	for _, o := range m.kind("Deployment") {
		var d k8sDeployment
		o.decode(t, &d)
		if d.Spec.Template.Metadata.Annotations["dapr.io/enabled"] == "true" {
			daprEnabled = append(daprEnabled, o.Metadata.Name)
		}
	}
	if got, want := k8sSorted(daprEnabled), k8sSorted(ids); !slices.Equal(got, want) {
		t.Errorf("Dapr-enabled Deployments = %v, want dapr.yaml's apps %v", got, want)
	}

	for _, a := range apps {
		t.Run(a.AppID, func(t *testing.T) {
			_, d := k8sAppDeployment(t, m, a.AppID)
			tmpl := d.Spec.Template
			ann := tmpl.Metadata.Annotations

			want := map[string]string{
				"dapr.io/enabled":                   "true",
				"dapr.io/app-id":                    a.AppID,
				"dapr.io/app-port":                  strconv.Itoa(a.AppPort),
				"dapr.io/app-protocol":              a.AppProtocol,
				"dapr.io/enable-app-health-check":   strconv.FormatBool(a.EnableAppHealthCheck),
				"dapr.io/app-health-check-path":     a.AppHealthCheckPath,
				"dapr.io/app-health-probe-interval": strconv.Itoa(a.AppHealthProbeInterval),
				"dapr.io/app-health-threshold":      strconv.Itoa(a.AppHealthThreshold),
				"dapr.io/sidecar-listen-addresses":  a.APIListenAddresses,
				"dapr.io/log-level":                 a.LogLevel,
				"dapr.io/log-as-json":               "true",
				"dapr.io/enable-metrics":            "true",
			}
			for _, k := range k8sKeys(want) {
				if ann[k] != want[k] {
					t.Errorf("annotation %s = %q, want %q", k, ann[k], want[k])
				}
			}
			for k := range ann {
				if strings.HasPrefix(k, "dapr.io/") && !slices.Contains(k8sDaprAnnotations, k) {
					t.Errorf("annotation %s is not one Dapr 1.14 reads", k)
				}
			}
			// The sidecar's app health check and the kubelet's liveness
			// probe ask the same route.
			if a.AppHealthCheckPath != k8sLivenessPath {
				t.Errorf("dapr.yaml appHealthCheckPath = %q, want %q", a.AppHealthCheckPath, k8sLivenessPath)
			}
			// The autoscaler's CPU utilisation needs a request on every
			// container, the injected sidecar's included.
			for _, k := range []string{"dapr.io/sidecar-cpu-request", "dapr.io/sidecar-memory-request"} {
				if ann[k] == "" {
					t.Errorf("annotation %s is not set", k)
				}
			}
			if cfg := ann["dapr.io/config"]; cfg == "" {
				t.Error("annotation dapr.io/config is not set")
			} else if _, ok := m.get("Configuration", cfg); !ok {
				t.Errorf("dapr.io/config = %q, want the name of a Configuration in %s", cfg, k8sDir)
			}

			// Dapr 1.14's injector gives the tokens to the sidecar only, so
			// the app container must read the same Secrets itself.
			c := k8sAppContainer(t, d, a.AppID)
			tokens := []struct{ annotation, env string }{
				{"dapr.io/api-token-secret", "DAPR_API_TOKEN"},
				{"dapr.io/app-token-secret", "APP_API_TOKEN"},
			}
			for _, tok := range tokens {
				secret := ann[tok.annotation]
				if secret == "" {
					if tok.env == "APP_API_TOKEN" && a.AppID == k8sPublicApp {
						continue // nothing invokes the gateway through Dapr
					}
					t.Errorf("annotation %s is not set", tok.annotation)
					continue
				}
				if err := k8sSecretKey(t, m, secret, "token"); err != nil {
					t.Errorf("annotation %s: %v", tok.annotation, err)
				}
				e, ok := c.env(tok.env)
				if !ok || e.ValueFrom == nil || e.ValueFrom.SecretKeyRef == nil {
					t.Errorf("env %s is not read from a Secret, want Secret %q key token", tok.env, secret)
				} else if got := *e.ValueFrom.SecretKeyRef; got != (k8sKeyRef{Name: secret, Key: "token"}) {
					t.Errorf("env %s from %+v, want Secret %q key token (as %s)", tok.env, got, secret, tok.annotation)
				}
			}
			for _, e := range c.Env {
				if e.ValueFrom != nil && e.ValueFrom.SecretKeyRef != nil {
					ref := e.ValueFrom.SecretKeyRef
					if err := k8sSecretKey(t, m, ref.Name, ref.Key); err != nil {
						t.Errorf("env %s: %v", e.Name, err)
					}
				}
			}

			if sel := d.Spec.Selector.MatchLabels; len(sel) == 0 {
				t.Error("spec.selector.matchLabels is empty")
			} else {
				for k, v := range sel {
					if tmpl.Metadata.Labels[k] != v {
						t.Errorf("template label %s = %q, want %q (the selector's)", k, tmpl.Metadata.Labels[k], v)
					}
				}
			}
			if sa := tmpl.Spec.ServiceAccountName; sa == "" {
				t.Error("serviceAccountName is not set")
			} else if _, ok := m.get("ServiceAccount", sa); !ok {
				t.Errorf("serviceAccountName = %q, want a ServiceAccount in %s", sa, k8sDir)
			}

			if want := "finflow/" + a.AppID + ":latest"; c.Image != want {
				t.Errorf("image = %q, want %q", c.Image, want)
			}
			var ports []int
			for _, p := range c.Ports {
				ports = append(ports, p.ContainerPort)
			}
			if !slices.Contains(ports, a.AppPort) {
				t.Errorf("container ports = %v, want %d among them", ports, a.AppPort)
			}
			if e, ok := c.env("APP_PORT"); ok && e.Value != strconv.Itoa(a.AppPort) {
				t.Errorf("env APP_PORT = %q, want %d", e.Value, a.AppPort)
			}

			probes := []struct {
				name  string
				probe *k8sProbe
				path  string
			}{
				{"livenessProbe", c.LivenessProbe, k8sLivenessPath},
				{"readinessProbe", c.ReadinessProbe, k8sReadinessPath},
			}
			for _, p := range probes {
				if p.probe == nil || p.probe.HTTPGet == nil {
					t.Errorf("%s is not an httpGet probe", p.name)
					continue
				}
				if got := p.probe.HTTPGet.Path; got != p.path {
					t.Errorf("%s path = %q, want %q", p.name, got, p.path)
				}
				if got := c.port(p.probe.HTTPGet.Port); got != a.AppPort {
					t.Errorf("%s port = %v, want %d", p.name, p.probe.HTTPGet.Port, a.AppPort)
				}
			}

			for _, r := range []string{"cpu", "memory"} {
				if c.Resources.Requests[r] == "" {
					t.Errorf("resources.requests.%s is not set", r)
				}
				if c.Resources.Limits[r] == "" {
					t.Errorf("resources.limits.%s is not set", r)
				}
			}

			pod, ctr := tmpl.Spec.SecurityContext, c.SecurityContext
			if !k8sIsTrue(pod.RunAsNonRoot) && !k8sIsTrue(ctr.RunAsNonRoot) {
				t.Error("runAsNonRoot is not true (pod or container)")
			}
			for _, u := range []*int64{pod.RunAsUser, ctr.RunAsUser} {
				if u != nil && *u == 0 {
					t.Error("runAsUser = 0, want a non-root user")
				}
			}
			if ctr.AllowPrivilegeEscalation == nil || *ctr.AllowPrivilegeEscalation {
				t.Error("allowPrivilegeEscalation is not false")
			}
			if !k8sIsTrue(ctr.ReadOnlyRootFilesystem) {
				t.Error("readOnlyRootFilesystem is not true")
			}
			if !slices.Contains(ctr.Capabilities.Drop, "ALL") {
				t.Errorf("capabilities.drop = %v, want ALL", ctr.Capabilities.Drop)
			}
		})
	}
}

// TestKubernetesServicesExposeEachApp checks one Service per app on its
// port: ClusterIP inside, the gateway ClusterIP or LoadBalancer.
func TestKubernetesServicesExposeEachApp(t *testing.T) {
	m := k8sLoad(t)
	for _, a := range k8sApps(t) {
		t.Run(a.AppID, func(t *testing.T) {
			_, d := k8sAppDeployment(t, m, a.AppID)
			c := k8sAppContainer(t, d, a.AppID)
			o, ok := m.get("Service", a.AppID)
			if !ok {
				t.Fatalf("no Service %q", a.AppID)
			}
			var s k8sService
			o.decode(t, &s)

			allowed := []string{"", "ClusterIP"}
			if a.AppID == k8sPublicApp {
				allowed = append(allowed, "LoadBalancer")
			}
			if !slices.Contains(allowed, s.Spec.Type) {
				t.Errorf("type = %q, want one of %q", s.Spec.Type, allowed)
			}
			if len(s.Spec.Selector) == 0 {
				t.Error("selector is empty")
			}
			for k, v := range s.Spec.Selector {
				if d.Spec.Template.Metadata.Labels[k] != v {
					t.Errorf("selector %s=%s does not select the %s pods", k, v, a.AppID)
				}
			}
			found := false
			for _, p := range s.Spec.Ports {
				target := p.TargetPort
				if target == nil {
					target = p.Port
				}
				if p.Port == a.AppPort && c.port(target) == a.AppPort {
					found = true
				}
			}
			if !found {
				t.Errorf("no port %d with targetPort the container's %d", a.AppPort, a.AppPort)
			}
		})
	}
}

// k8sComponentDifference is an intended difference between a local
// component and its Kubernetes version.
type k8sComponentDifference struct {
	component string // "" for every component
	item      string
	check     func(local, k8s *k8sComponentItem) error
}

// TestKubernetesComponentsMatchLocal checks that the Kubernetes components
// are components/*.yaml (names, types, versions, scopes, settings) except
// for the intended differences: Redis in the cluster, its password and the
// secrets from Kubernetes Secrets.
func TestKubernetesComponentsMatchLocal(t *testing.T) {
	m := k8sLoad(t)
	decode := func(ms k8sManifests) map[string]k8sComponent {
		out := map[string]k8sComponent{}
		for _, o := range ms.kind("Component") {
			var c k8sComponent
			o.decode(t, &c)
			out[o.Metadata.Name] = c
		}
		return out
	}
	local, k8s := decode(k8sLoadLocal(t)), decode(m)
	if got, want := k8sKeys(k8s), k8sKeys(local); !slices.Equal(got, want) {
		t.Fatalf("Kubernetes components = %v, want the local ones %v", got, want)
	}

	redisPassword := func(_, k *k8sComponentItem) error {
		if k == nil || k.SecretKeyRef == nil || k.Value != nil {
			return errors.New("want only a secretKeyRef")
		}
		return k8sSecretKey(t, m, k.SecretKeyRef.Name, k.SecretKeyRef.Key)
	}
	differences := []k8sComponentDifference{
		{item: "redisHost", check: func(_, k *k8sComponentItem) error {
			if k == nil || k.Value == nil || *k.Value != k8sRedisHost {
				return fmt.Errorf("want %q", k8sRedisHost)
			}
			return nil
		}},
		{item: "redisPassword", check: redisPassword},
		// The local file store's settings have no Kubernetes counterpart.
		{component: "finflow-secrets", item: "secretsFile", check: func(_, k *k8sComponentItem) error {
			if k != nil {
				return errors.New("want none: Kubernetes Secrets, not a file")
			}
			return nil
		}},
		{component: "finflow-secrets", item: "multiValued", check: func(_, k *k8sComponentItem) error {
			if k != nil {
				return errors.New("want none: a Kubernetes Secret is multi-valued")
			}
			return nil
		}},
	}
	wantType := map[string]string{"finflow-secrets": "secretstores.kubernetes"}

	for _, name := range k8sKeys(local) {
		t.Run(name, func(t *testing.T) {
			l, k := local[name], k8s[name]
			want := l.Spec.Type
			if w, ok := wantType[name]; ok {
				want = w
			}
			if k.Spec.Type != want {
				t.Errorf("type = %q, want %q", k.Spec.Type, want)
			}
			if k.Spec.Version != l.Spec.Version {
				t.Errorf("version = %q, want %q", k.Spec.Version, l.Spec.Version)
			}
			if got, want := k8sSorted(k.Scopes), k8sSorted(l.Scopes); !slices.Equal(got, want) {
				t.Errorf("scopes = %v, want %v", got, want)
			}

			items := map[string]bool{}
			for _, it := range l.Spec.Metadata {
				items[it.Name] = true
			}
			for _, it := range k.Spec.Metadata {
				items[it.Name] = true
			}
			for _, item := range k8sKeys(items) {
				var lp, kp *k8sComponentItem
				if it, ok := l.item(item); ok {
					lp = &it
				}
				if it, ok := k.item(item); ok {
					kp = &it
				}
				intended := false
				for _, d := range differences {
					if d.item != item || (d.component != "" && d.component != name) {
						continue
					}
					intended = true
					if err := d.check(lp, kp); err != nil {
						t.Errorf("metadata %s: %v", item, err)
					}
				}
				if intended {
					continue
				}
				if !reflect.DeepEqual(lp, kp) {
					t.Errorf("metadata %s = %s, want %s (as components/)", item, k8sItemString(kp), k8sItemString(lp))
				}
			}
			// No password sits in a component in clear.
			for _, it := range k.Spec.Metadata {
				if strings.Contains(strings.ToLower(it.Name), "password") && it.Value != nil && *it.Value != "" {
					t.Errorf("metadata %s holds a value, want a secretKeyRef", it.Name)
				}
			}
		})
	}
}

// k8sItemString shows a component metadata item in a failure message.
func k8sItemString(it *k8sComponentItem) string {
	switch {
	case it == nil:
		return "(absent)"
	case it.SecretKeyRef != nil:
		return fmt.Sprintf("secretKeyRef %s/%s", it.SecretKeyRef.Name, it.SecretKeyRef.Key)
	case it.Value != nil:
		return strconv.Quote(*it.Value)
	}
	return "(empty)"
}

// TestKubernetesResiliencyMatchesLocal checks that the cluster's sidecars
// get components/resiliency.yaml's policies, unchanged.
func TestKubernetesResiliencyMatchesLocal(t *testing.T) {
	spec := func(ms k8sManifests, where string) (string, any) {
		rs := ms.kind("Resiliency")
		if len(rs) != 1 {
			t.Fatalf("%s: %d Resiliency resources, want 1", where, len(rs))
		}
		var r struct {
			Spec   any      `yaml:"spec"`
			Scopes []string `yaml:"scopes"`
		}
		rs[0].decode(t, &r)
		if len(r.Scopes) != 0 {
			t.Errorf("%s: Resiliency scopes = %v, want none (every sidecar)", where, r.Scopes)
		}
		if r.Spec == nil {
			t.Fatalf("%s: Resiliency has no spec", where)
		}
		return rs[0].Metadata.Name, r.Spec
	}
	localName, local := spec(k8sLoadLocal(t), "components/")
	k8sName, k8s := spec(k8sLoad(t), k8sDir)
	if k8sName != localName {
		t.Errorf("Resiliency name = %q, want %q", k8sName, localName)
	}
	if !reflect.DeepEqual(k8s, local) {
		t.Errorf("Resiliency spec differs from components/resiliency.yaml:\n got %v\nwant %v", k8s, local)
	}
}

// TestKubernetesConfigurationsMirrorSecure checks each app's Dapr
// Configuration: metrics on, tracing off (samplingRate "0"), and
// config/secure/<app>.yaml's access control with the finflow namespace.
func TestKubernetesConfigurationsMirrorSecure(t *testing.T) {
	m := k8sLoad(t)
	root := k8sRoot(t)
	for _, a := range k8sApps(t) {
		t.Run(a.AppID, func(t *testing.T) {
			_, d := k8sAppDeployment(t, m, a.AppID)
			name := d.Spec.Template.Metadata.Annotations["dapr.io/config"]
			o, ok := m.get("Configuration", name)
			if !ok {
				t.Fatalf("no Configuration %q (dapr.io/config)", name)
			}
			var k k8sConfiguration
			o.decode(t, &k)

			secure := k8sReadObjects(t, filepath.Join(root, "config", "secure", a.AppID+".yaml")).kind("Configuration")
			if len(secure) != 1 {
				t.Fatalf("config/secure/%s.yaml: %d Configurations, want 1", a.AppID, len(secure))
			}
			if name != secure[0].Metadata.Name {
				t.Errorf("Configuration name = %q, want %q (config/secure)", name, secure[0].Metadata.Name)
			}
			var l k8sConfiguration
			secure[0].decode(t, &l)

			if !k8sIsTrue(k.Spec.Metric.Enabled) {
				t.Error("metric.enabled is not true")
			}
			if r := k.Spec.Tracing.SamplingRate; r == nil {
				t.Error("tracing.samplingRate is not set, want \"0\"")
			} else if *r != "0" {
				t.Errorf("tracing.samplingRate = %q, want \"0\"", *r)
			}
			want := l.Spec.AccessControl
			if want == nil {
				t.Fatalf("config/secure/%s.yaml has no accessControl", a.AppID)
			}
			policies, _ := want["policies"].([]any)
			for _, p := range policies {
				if pm, ok := p.(map[string]any); ok {
					pm["namespace"] = k8sNamespace
				}
			}
			if !reflect.DeepEqual(k.Spec.AccessControl, want) {
				t.Errorf("accessControl = %v\nwant config/secure/%s.yaml's in namespace %s: %v",
					k.Spec.AccessControl, a.AppID, k8sNamespace, want)
			}
		})
	}
}

// TestKubernetesAutoscalers checks the HorizontalPodAutoscalers: the gateway
// and the payment service, on CPU utilisation, and nothing else.
func TestKubernetesAutoscalers(t *testing.T) {
	m := k8sLoad(t)
	hpas := map[string]k8sHPA{}
	for _, o := range m.kind("HorizontalPodAutoscaler") {
		if o.APIVersion != "autoscaling/v2" {
			t.Errorf("%s: apiVersion = %q, want autoscaling/v2", o, o.APIVersion)
		}
		var h k8sHPA
		o.decode(t, &h)
		hpas[h.Spec.ScaleTargetRef.Name] = h
	}
	targets := []string{"gateway", "payment"}
	if got := k8sKeys(hpas); !slices.Equal(got, targets) {
		t.Errorf("autoscaled Deployments = %v, want %v", got, targets)
	}
	for _, target := range targets {
		t.Run(target, func(t *testing.T) {
			h, ok := hpas[target]
			if !ok {
				t.Fatalf("no HorizontalPodAutoscaler targets %s", target)
			}
			ref := h.Spec.ScaleTargetRef
			if ref.APIVersion != "apps/v1" || ref.Kind != "Deployment" {
				t.Errorf("scaleTargetRef = %s %s, want apps/v1 Deployment", ref.APIVersion, ref.Kind)
			}
			obj, d := k8sAppDeployment(t, m, target)
			if d.Spec.Replicas != nil {
				t.Errorf("%s sets replicas: every `kubectl apply` would undo the autoscaler", obj)
			}
			if h.Spec.MinReplicas == nil || *h.Spec.MinReplicas < 1 || *h.Spec.MinReplicas > h.Spec.MaxReplicas {
				t.Errorf("minReplicas = %v, maxReplicas = %d, want 1 <= min <= max", h.Spec.MinReplicas, h.Spec.MaxReplicas)
			}
			cpu := false
			for _, mt := range h.Spec.Metrics {
				if mt.Type == "Resource" && mt.Resource != nil && mt.Resource.Name == "cpu" &&
					mt.Resource.Target.Type == "Utilization" &&
					mt.Resource.Target.AverageUtilization > 0 && mt.Resource.Target.AverageUtilization <= 100 {
					cpu = true
				}
			}
			if !cpu {
				t.Error("no Resource metric on cpu Utilization with averageUtilization in (0, 100]")
			}
			for _, c := range d.Spec.Template.Spec.Containers {
				if c.Resources.Requests["cpu"] == "" {
					t.Errorf("container %s has no cpu request: utilisation cannot be computed", c.Name)
				}
			}
			if d.Spec.Template.Metadata.Annotations["dapr.io/sidecar-cpu-request"] == "" {
				t.Error("the sidecar has no cpu request (dapr.io/sidecar-cpu-request): utilisation cannot be computed")
			}
		})
	}
}

// TestKubernetesSecretsHoldOnlyTestModePlaceholders checks that every
// Secret is marked test-mode and holds only marked placeholders; that the
// secrets the services read have config/test-mode-secrets.json's keys; and
// that none of that file's values was copied into a manifest.
func TestKubernetesSecretsHoldOnlyTestModePlaceholders(t *testing.T) {
	m := k8sLoad(t)
	secrets := m.kind("Secret")
	if len(secrets) == 0 {
		t.Fatal("no Secrets")
	}
	for _, o := range secrets {
		var s k8sSecret
		o.decode(t, &s)
		if o.Metadata.Labels[k8sTestModeLabel] != "true" {
			t.Errorf("%s: label %s = %q, want \"true\"", o, k8sTestModeLabel, o.Metadata.Labels[k8sTestModeLabel])
		}
		if len(s.Data) > 0 {
			t.Errorf("%s has data (base64): want stringData only, so every value can be seen to be a placeholder", o)
		}
		if len(s.StringData) == 0 {
			t.Errorf("%s has no stringData", o)
		}
		for k, v := range s.StringData {
			if !strings.Contains(v, k8sTestModeMarker) {
				t.Errorf("%s key %s = %q, want a placeholder marked %s", o, k, v, k8sTestModeMarker)
			}
		}
	}

	raw, err := os.ReadFile(filepath.Join(k8sRoot(t), "config", "test-mode-secrets.json"))
	if err != nil {
		t.Fatal(err)
	}
	var local map[string]map[string]string
	if err := json.Unmarshal(raw, &local); err != nil {
		t.Fatalf("parsing config/test-mode-secrets.json: %v", err)
	}
	var texts []string
	for _, r := range k8sKustomizationResources(t) {
		b, err := os.ReadFile(filepath.Join(k8sRoot(t), k8sDir, r))
		if err != nil {
			t.Fatal(err)
		}
		texts = append(texts, string(b))
	}
	for _, name := range k8sKeys(local) {
		t.Run(name, func(t *testing.T) {
			o, ok := m.get("Secret", name)
			if !ok {
				t.Fatalf("no Secret %q (the services read it through finflow-secrets)", name)
			}
			var s k8sSecret
			o.decode(t, &s)
			if got, want := k8sKeys(s.StringData), k8sKeys(local[name]); !slices.Equal(got, want) {
				t.Errorf("keys = %v, want config/test-mode-secrets.json's %v", got, want)
			}
			for k, v := range local[name] {
				if len(v) < 8 || k == "mode" {
					continue
				}
				for i, text := range texts {
					if strings.Contains(text, v) {
						t.Errorf("%s holds the local test-mode value of %s.%s: want a placeholder", k8sKustomizationResources(t)[i], name, k)
					}
				}
			}
		})
	}
}

// TestKubernetesAppsCanReadTheirSecrets checks that each app's service
// account may get the secrets its service reads through the Kubernetes
// secret store, and that no Role grants more than get on named Secrets.
func TestKubernetesAppsCanReadTheirSecrets(t *testing.T) {
	m := k8sLoad(t)
	// What each service reads: platform/service ("internal", all but the
	// gateway), services/gateway and services/razorpay main.go.
	reads := map[string][]string{
		"gateway":  {"gateway"},
		"user":     {"internal"},
		"wallet":   {"internal"},
		"billing":  {"internal"},
		"payment":  {"internal"},
		"razorpay": {"internal", "razorpay"},
	}
	for _, o := range m.kind("Role") {
		var r k8sRole
		o.decode(t, &r)
		for _, rule := range r.Rules {
			if len(rule.ResourceNames) == 0 || !slices.Equal(rule.Verbs, []string{"get"}) || !slices.Equal(rule.Resources, []string{"secrets"}) {
				t.Errorf("%s: rule %+v, want only get on named secrets", o, rule)
			}
		}
	}
	for _, a := range k8sApps(t) {
		t.Run(a.AppID, func(t *testing.T) {
			want, ok := reads[a.AppID]
			if !ok {
				t.Fatalf("app %s is new: add the secrets it reads to this test", a.AppID)
			}
			_, d := k8sAppDeployment(t, m, a.AppID)
			sa := d.Spec.Template.Spec.ServiceAccountName
			var granted []string
			for _, o := range m.kind("RoleBinding") {
				var b k8sRoleBinding
				o.decode(t, &b)
				bound := false
				for _, s := range b.Subjects {
					if s.Kind == "ServiceAccount" && s.Name == sa && s.Namespace == k8sNamespace {
						bound = true
					}
				}
				if !bound || b.RoleRef.Kind != "Role" {
					continue
				}
				ro, ok := m.get("Role", b.RoleRef.Name)
				if !ok {
					t.Errorf("%s binds missing Role %q", o, b.RoleRef.Name)
					continue
				}
				var r k8sRole
				ro.decode(t, &r)
				for _, rule := range r.Rules {
					if slices.Contains(rule.Resources, "secrets") && slices.Contains(rule.Verbs, "get") {
						granted = append(granted, rule.ResourceNames...)
					}
				}
			}
			if got := k8sSorted(granted); !slices.Equal(got, k8sSorted(want)) {
				t.Errorf("service account %q may get secrets %v, want %v", sa, got, k8sSorted(want))
			}
			for _, s := range want {
				if _, ok := m.get("Secret", s); !ok {
					t.Errorf("no Secret %q", s)
				}
			}
		})
	}
}

// TestKubernetesRedisIsInClusterForDevelopment checks the Redis the
// components and the gateway use: a Service and workload in the namespace,
// marked development-only.
func TestKubernetesRedisIsInClusterForDevelopment(t *testing.T) {
	m := k8sLoad(t)
	host, port, _ := strings.Cut(k8sRedisHost, ":")
	name, rest, _ := strings.Cut(host, ".")
	if want := k8sNamespace + ".svc.cluster.local"; rest != want {
		t.Fatalf("k8sRedisHost %q is not a Service of namespace %s", k8sRedisHost, k8sNamespace)
	}
	o, ok := m.get("Service", name)
	if !ok {
		t.Fatalf("no Service %q for %s", name, k8sRedisHost)
	}
	var s k8sService
	o.decode(t, &s)
	found := false
	for _, p := range s.Spec.Ports {
		if strconv.Itoa(p.Port) == port {
			found = true
		}
	}
	if !found {
		t.Errorf("Service %s has no port %s", name, port)
	}

	var workload *k8sObject
	for _, kind := range []string{"StatefulSet", "Deployment"} {
		if w, ok := m.get(kind, name); ok {
			workload = &w
		}
	}
	if workload == nil {
		t.Fatalf("no StatefulSet or Deployment %q", name)
	}
	var d k8sDeployment // a StatefulSet's spec has the same selector and template
	workload.decode(t, &d)
	for k, v := range s.Spec.Selector {
		if d.Spec.Template.Metadata.Labels[k] != v {
			t.Errorf("Service %s selector %s=%s does not select %s", name, k, v, workload)
		}
	}
	for _, o := range []k8sObject{o, *workload} {
		if p := o.Metadata.Annotations["finflow.io/purpose"]; !strings.Contains(p, "development only") {
			t.Errorf("%s: annotation finflow.io/purpose = %q, want it marked development only", o, p)
		}
	}

	_, gw := k8sAppDeployment(t, m, k8sPublicApp)
	c := k8sAppContainer(t, gw, k8sPublicApp)
	if e, _ := c.env("REDIS_ADDR"); e.Value != k8sRedisHost {
		t.Errorf("gateway env REDIS_ADDR = %q, want %q (its rate limiter's Redis)", e.Value, k8sRedisHost)
	}
}

// TestKubernetesSettingsSeedMatchesRuntimeSettings checks that the seeded
// runtime settings are config/runtime-settings.yaml's, except the Razorpay
// address: the local simulator does not run in the cluster.
func TestKubernetesSettingsSeedMatchesRuntimeSettings(t *testing.T) {
	m := k8sLoad(t)
	raw, err := os.ReadFile(filepath.Join(k8sRoot(t), "config", "runtime-settings.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var local map[string]any
	if err := yaml.Unmarshal(raw, &local); err != nil {
		t.Fatalf("parsing config/runtime-settings.yaml: %v", err)
	}
	o, ok := m.get("ConfigMap", "finflow-settings-seed")
	if !ok {
		t.Fatal("no ConfigMap finflow-settings-seed")
	}
	var cm struct {
		Data map[string]string `yaml:"data"`
	}
	o.decode(t, &cm)
	if got, want := k8sKeys(cm.Data), k8sKeys(local); !slices.Equal(got, want) {
		t.Errorf("seeded keys = %v, want config/runtime-settings.yaml's %v", got, want)
	}
	differs := map[string]func(string) bool{
		"razorpay.api_base_url": func(v string) bool { return strings.HasPrefix(v, "https://") },
	}
	for _, k := range k8sKeys(local) {
		got, want := cm.Data[k], fmt.Sprint(local[k])
		if ok, intended := differs[k]; intended {
			if !ok(got) {
				t.Errorf("seeded %s = %q, want an https URL", k, got)
			}
			continue
		}
		if got != want {
			t.Errorf("seeded %s = %q, want %q", k, got, want)
		}
	}
	if _, ok := m.get("Job", "finflow-settings-seed"); !ok {
		t.Error("no Job finflow-settings-seed writes the settings")
	}
}
