package deploy

// The Kubernetes manifests in deploy/kubernetes, checked without a cluster
// but against the API: rendered by kustomize and decoded strictly
// (k8sapi_test.go), then held against dapr.yaml (apps, ports, sidecar
// settings), components/*.yaml and config/ (the local Dapr resources the
// Kubernetes ones must mirror), and the services' routes.

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/util/intstr"
	sigsyaml "sigs.k8s.io/yaml"

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

// daprComponent is what the checks read of a Dapr Component.
type daprComponent struct {
	Spec struct {
		Type     string              `json:"type"`
		Version  string              `json:"version"`
		Metadata []daprComponentItem `json:"metadata"`
	} `json:"spec"`
	Scopes []string `json:"scopes"`
}

type daprComponentItem struct {
	Name         string `json:"name"`
	Value        any    `json:"value"`
	SecretKeyRef *struct {
		Name string `json:"name"`
		Key  string `json:"key"`
	} `json:"secretKeyRef"`
}

// item returns the metadata item of that name.
func (c daprComponent) item(name string) (daprComponentItem, bool) {
	for _, it := range c.Spec.Metadata {
		if it.Name == name {
			return it, true
		}
	}
	return daprComponentItem{}, false
}

// daprConfiguration is what the checks read of a Dapr Configuration.
type daprConfiguration struct {
	Spec struct {
		Tracing struct {
			SamplingRate *string `json:"samplingRate"`
		} `json:"tracing"`
		Metric struct {
			Enabled *bool `json:"enabled"`
		} `json:"metric"`
		AccessControl map[string]any `json:"accessControl"`
		MTLS          *struct {
			Enabled *bool `json:"enabled"`
		} `json:"mtls"`
	} `json:"spec"`
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

// k8sKustomizationResources returns the files kustomization.yaml lists.
func k8sKustomizationResources(tb testing.TB) []string {
	tb.Helper()
	raw, err := os.ReadFile(filepath.Join(k8sRoot(tb), k8sDir, "kustomization.yaml"))
	if err != nil {
		tb.Fatal(err)
	}
	var k struct {
		Resources []string `json:"resources"`
	}
	if err := sigsyaml.Unmarshal(raw, &k); err != nil {
		tb.Fatalf("parsing kustomization.yaml: %v", err)
	}
	return k.Resources
}

// k8sLoadLocal decodes the local Dapr components: components/*.yaml.
func k8sLoadLocal(tb testing.TB) k8sManifests {
	tb.Helper()
	files, err := filepath.Glob(filepath.Join(k8sRoot(tb), "components", "*.yaml"))
	if err != nil || len(files) == 0 {
		tb.Fatalf("no local components found: %v", err)
	}
	return daprResources(tb, files...)
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

// k8sAppContainer returns the container serving the app port: the one
// container of the manifest (Dapr injects the sidecar at admission).
func k8sAppContainer(tb testing.TB, d *appsv1.Deployment) corev1.Container {
	tb.Helper()
	cs := d.Spec.Template.Spec.Containers
	if len(cs) != 1 {
		tb.Fatalf("Deployment %s has %d containers, want 1 (the app; Dapr injects daprd)", d.Name, len(cs))
	}
	return cs[0]
}

// k8sEnv returns the container's variable of that name, if set.
func k8sEnv(c corev1.Container, name string) (corev1.EnvVar, bool) {
	for _, e := range c.Env {
		if e.Name == name {
			return e, true
		}
	}
	return corev1.EnvVar{}, false
}

// k8sPort resolves a probe's or a Service's port (a number or a port name)
// to the container's port number, or 0.
func k8sPort(c corev1.Container, p intstr.IntOrString) int {
	if p.Type == intstr.Int {
		return p.IntValue()
	}
	for _, cp := range c.Ports {
		if cp.Name == p.StrVal {
			return int(cp.ContainerPort)
		}
	}
	return 0
}

// k8sSecretKey reports whether Secret name holds key.
func k8sSecretKey(tb testing.TB, m k8sManifests, name, key string) error {
	tb.Helper()
	o, ok := m.get("Secret", name)
	if !ok {
		return fmt.Errorf("no Secret %q", name)
	}
	s := o.Object.(*corev1.Secret)
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
	return slices.Sorted(mapKeys(m))
}

// k8sPodTemplates returns the pod template of every workload, by workload.
func k8sPodTemplates(m k8sManifests) map[string]*corev1.PodTemplateSpec {
	out := map[string]*corev1.PodTemplateSpec{}
	for _, o := range m {
		switch w := o.Object.(type) {
		case *appsv1.Deployment:
			out[o.String()] = &w.Spec.Template
		case *appsv1.StatefulSet:
			out[o.String()] = &w.Spec.Template
		case *appsv1.DaemonSet:
			out[o.String()] = &w.Spec.Template
		case *batchv1.Job:
			out[o.String()] = &w.Spec.Template
		case *batchv1.CronJob:
			out[o.String()] = &w.Spec.JobTemplate.Spec.Template
		case *corev1.Pod:
			out[o.String()] = &corev1.PodTemplateSpec{ObjectMeta: w.ObjectMeta, Spec: w.Spec}
		}
	}
	return out
}

// TestKubernetesObjectsDecodeStrictly checks what kubectl apply -k would
// send: kustomize renders deploy/kubernetes, every object decodes strictly
// into its API type (or Dapr's CRD schema), each is defined once, and all
// live in the finflow namespace. kustomization.yaml lists every manifest.
func TestKubernetesObjectsDecodeStrictly(t *testing.T) {
	m := k8sLoad(t) // fails on the first object that does not decode

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
	if got, want := k8sSorted(k8sKustomizationResources(t)), k8sSorted(onDisk); !slices.Equal(got, want) {
		t.Errorf("kustomization.yaml resources = %v, want every manifest in %s: %v", got, k8sDir, want)
	}

	seen := map[string]bool{}
	kinds := map[string]int{}
	for _, o := range m {
		id := o.GVK.Kind + "/" + o.Name
		if seen[id] {
			t.Errorf("%s is defined twice", id)
		}
		seen[id] = true
		kinds[o.GVK.Kind]++
		if o.GVK.Kind == "Namespace" {
			continue
		}
		if o.Namespace != k8sNamespace {
			t.Errorf("%s: namespace = %q, want %q", o, o.Namespace, k8sNamespace)
		}
	}
	if _, ok := m.get("Namespace", k8sNamespace); !ok {
		t.Errorf("no Namespace %q", k8sNamespace)
	}
	t.Logf("%d objects decoded strictly: %v", len(m), kinds)
}

// TestKubernetesDecodingCatchesMistakes checks that the decoding above
// fails on the mistakes it is there to catch, and passes the same objects
// without them.
func TestKubernetesDecodingCatchesMistakes(t *testing.T) {
	const deployment = `apiVersion: apps/v1
kind: Deployment
metadata: {name: x, namespace: finflow}
spec:
  selector: {matchLabels: {app: x}}
  template:
    metadata: {labels: {app: x}}
    spec:
      containers:
        - name: x
          image: x
          %s`
	const component = `apiVersion: dapr.io/v1alpha1
kind: Component
metadata: {name: c}
spec:
  type: state.redis
  version: v1
  metadata:
    - name: redisHost
      value: localhost:6379
      %s`
	const configuration = `apiVersion: dapr.io/v1alpha1
kind: Configuration
metadata: {name: c}
spec:
  accessControl:
    defaultAction: deny
    %s`
	cases := []struct {
		name    string
		yaml    string
		wantErr string // "" means it must decode
	}{
		{"valid Deployment", fmt.Sprintf(deployment, "imagePullPolicy: IfNotPresent"), ""},
		{"misspelt container field", fmt.Sprintf(deployment, "imagePullPolicyy: IfNotPresent"), "unknown field"},
		{"mistyped container field", fmt.Sprintf(deployment, "ports: [{containerPort: eighty}]"), "containerPort"},
		{"duplicate field", fmt.Sprintf(deployment, "image: y"), "already set"},
		{"unknown kind", "apiVersion: apps/v1\nkind: Deploymnet\nmetadata: {name: x}\n", "no kind"},
		{"unknown metadata field", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x, lables: {a: b}}\n", "unknown field"},
		{"valid Component", fmt.Sprintf(component, ""), ""},
		{"misspelt Component item field", fmt.Sprintf(component, "secretKeyReff: {name: a}"), `unknown field "secretKeyReff"`},
		{"Component without version", "apiVersion: dapr.io/v1alpha1\nkind: Component\nmetadata: {name: c}\nspec: {type: state.redis, metadata: []}\n", `required field "version"`},
		{"misspelt Component scopes", "apiVersion: dapr.io/v1alpha1\nkind: Component\nmetadata: {name: c}\nscope: [a]\nspec: {type: t, version: v1, metadata: []}\n", `unknown field "scope"`},
		{"valid Configuration", fmt.Sprintf(configuration, "trustDomain: public"), ""},
		{"misspelt Configuration field", fmt.Sprintf(configuration, "trustDomian: public"), `unknown field "trustDomian"`},
		{"mistyped Resiliency field", "apiVersion: dapr.io/v1alpha1\nkind: Resiliency\nmetadata: {name: r}\nspec:\n  policies:\n    retries:\n      r: {maxRetries: three}\n  targets: {}\n", "want an integer"},
		{"Dapr kind of another release", "apiVersion: dapr.io/v2alpha1\nkind: Component\nmetadata: {name: c}\n", "no such kind"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			raw, err := sigsyaml.YAMLToJSONStrict([]byte(c.yaml))
			if err == nil {
				_, err = k8sDecode(t, raw)
			}
			switch {
			case c.wantErr == "" && err != nil:
				t.Errorf("decode = %v, want no error", err)
			case c.wantErr != "" && err == nil:
				t.Errorf("decode = no error, want one mentioning %q", c.wantErr)
			case c.wantErr != "" && !strings.Contains(err.Error(), c.wantErr):
				t.Errorf("decode = %v, want an error mentioning %q", err, c.wantErr)
			}
		})
	}
}

// TestDaprResourcesMatchTheCRDs checks every Dapr resource the repository
// runs with, not only the Kubernetes ones, against Dapr 1.14's CRD schemas:
// a self-hosted daprd ignores a misspelt field without a word.
func TestDaprResourcesMatchTheCRDs(t *testing.T) {
	root := k8sRoot(t)
	var files []string
	for _, pattern := range []string{"components/*.yaml", "config/*.yaml", "config/secure/*.yaml",
		"profiles/*/components/*.yaml", "deploy/compose/components/*.yaml", "deploy/compose/sentry/*.yaml"} {
		m, err := filepath.Glob(filepath.Join(root, pattern))
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, m...)
	}
	for _, f := range files {
		rel, _ := filepath.Rel(root, f)
		t.Run(rel, func(t *testing.T) {
			for _, raw := range yamlDocuments(t, f) {
				var head struct {
					APIVersion string `json:"apiVersion"`
				}
				if json.Unmarshal(raw, &head) != nil || !strings.HasPrefix(head.APIVersion, daprGroup+"/") {
					continue // not a Dapr resource (runtime settings, ...)
				}
				if _, err := k8sDecode(t, raw); err != nil {
					t.Error(err)
				}
			}
		})
	}
}

// TestKubernetesDeploymentsMatchTheRunFile checks each dapr.yaml app's
// Deployment: Dapr's annotations as dapr.yaml sets the sidecar (each one an
// annotation Dapr 1.14's injector reads, with a value of its type), the app
// port, probes on the health routes at that port, and the tokens and
// secrets it refers to.
func TestKubernetesDeploymentsMatchTheRunFile(t *testing.T) {
	m := k8sLoad(t)
	apps := k8sApps(t)
	known, err := daprAnnotations()
	if err != nil {
		t.Fatal(err)
	}

	var ids, daprEnabled []string
	for _, a := range apps {
		ids = append(ids, a.AppID)
	}
	for _, o := range m.kind("Deployment") {
		if o.Object.(*appsv1.Deployment).Spec.Template.Annotations["dapr.io/enabled"] == "true" {
			daprEnabled = append(daprEnabled, o.Name)
		}
	}
	if got, want := k8sSorted(daprEnabled), k8sSorted(ids); !slices.Equal(got, want) {
		t.Errorf("Dapr-enabled Deployments = %v, want dapr.yaml's apps %v", got, want)
	}

	for _, a := range apps {
		t.Run(a.AppID, func(t *testing.T) {
			d := k8sTyped[appsv1.Deployment](t, m, "Deployment", a.AppID)
			tmpl := d.Spec.Template
			ann := tmpl.Annotations

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
			for _, k := range k8sKeys(ann) {
				if !strings.HasPrefix(k, "dapr.io/") {
					continue
				}
				kind, ok := known[k]
				if !ok {
					t.Errorf("annotation %s is not one Dapr 1.14's sidecar injector reads", k)
					continue
				}
				v := ann[k]
				switch kind {
				case "bool":
					if _, err := strconv.ParseBool(v); err != nil {
						t.Errorf("annotation %s = %q, want a boolean", k, v)
					}
				case "int":
					if _, err := strconv.Atoi(v); err != nil {
						t.Errorf("annotation %s = %q, want an integer", k, v)
					}
				}
			}
			// The sidecar's app health check and the kubelet's liveness
			// probe ask the same route.
			if a.AppHealthCheckPath != k8sLivenessPath {
				t.Errorf("dapr.yaml appHealthCheckPath = %q, want %q", a.AppHealthCheckPath, k8sLivenessPath)
			}
			if cfg := ann["dapr.io/config"]; cfg == "" {
				t.Error("annotation dapr.io/config is not set")
			} else if _, ok := m.get("Configuration", cfg); !ok {
				t.Errorf("dapr.io/config = %q, want the name of a Configuration in %s", cfg, k8sDir)
			}

			// Dapr 1.14's injector gives the tokens to the sidecar only, so
			// the app container must read the same Secrets itself.
			c := k8sAppContainer(t, d)
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
				e, ok := k8sEnv(c, tok.env)
				if !ok || e.ValueFrom == nil || e.ValueFrom.SecretKeyRef == nil {
					t.Errorf("env %s is not read from a Secret, want Secret %q key token", tok.env, secret)
				} else if ref := e.ValueFrom.SecretKeyRef; ref.Name != secret || ref.Key != "token" {
					t.Errorf("env %s from Secret %q key %q, want Secret %q key token (as %s)", tok.env, ref.Name, ref.Key, secret, tok.annotation)
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

			if d.Spec.Selector == nil || len(d.Spec.Selector.MatchLabels) == 0 {
				t.Error("spec.selector.matchLabels is empty")
			} else {
				for k, v := range d.Spec.Selector.MatchLabels {
					if tmpl.Labels[k] != v {
						t.Errorf("template label %s = %q, want %q (the selector's)", k, tmpl.Labels[k], v)
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
			if !slices.ContainsFunc(c.Ports, func(p corev1.ContainerPort) bool { return int(p.ContainerPort) == a.AppPort }) {
				t.Errorf("container ports = %v, want %d among them", c.Ports, a.AppPort)
			}
			if e, ok := k8sEnv(c, "APP_PORT"); ok && e.Value != strconv.Itoa(a.AppPort) {
				t.Errorf("env APP_PORT = %q, want %d", e.Value, a.AppPort)
			}

			probes := []struct {
				name  string
				probe *corev1.Probe
				path  string
			}{
				{"startupProbe", c.StartupProbe, k8sLivenessPath},
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
				if got := k8sPort(c, p.probe.HTTPGet.Port); got != a.AppPort {
					t.Errorf("%s port = %v, want %d", p.name, p.probe.HTTPGet.Port.String(), a.AppPort)
				}
			}
		})
	}
}

// TestKubernetesProbesAskRoutesThatExist checks that every HTTP probe of an
// app's Deployment asks a GET route its service registers: the app's
// main.go runs platform/service's lifecycle, and the route is registered
// there or in the service's own code. (make compose-test asks the same
// routes of the built images.)
func TestKubernetesProbesAskRoutesThatExist(t *testing.T) {
	m := k8sLoad(t)
	root := k8sRoot(t)
	shared := goRoutes(t, filepath.Join(root, "platform", "service"))
	for _, a := range k8sApps(t) {
		t.Run(a.AppID, func(t *testing.T) {
			var routes []string
			if callsServiceMain(t, filepath.Join(a.AppDirPath, "main.go")) {
				routes = append(routes, shared...)
			}
			routes = append(routes, goRoutes(t, a.AppDirPath)...)
			c := k8sAppContainer(t, k8sTyped[appsv1.Deployment](t, m, "Deployment", a.AppID))
			for name, p := range map[string]*corev1.Probe{"startupProbe": c.StartupProbe, "livenessProbe": c.LivenessProbe, "readinessProbe": c.ReadinessProbe} {
				if p == nil || p.HTTPGet == nil {
					continue
				}
				if !slices.Contains(routes, p.HTTPGet.Path) {
					t.Errorf("%s asks GET %s, which %s does not register (its GET routes: %v)", name, p.HTTPGet.Path, a.AppID, k8sSorted(routes))
				}
			}
		})
	}
}

// TestKubernetesResourcesAreSet checks that every container of every
// workload, and every Dapr sidecar the injector adds, has CPU and memory
// requests and limits, each request within its limit.
func TestKubernetesResourcesAreSet(t *testing.T) {
	m := k8sLoad(t)
	templates := k8sPodTemplates(m)
	if len(templates) == 0 {
		t.Fatal("no workloads")
	}
	for _, name := range k8sKeys(templates) {
		tmpl := templates[name]
		t.Run(name, func(t *testing.T) {
			for _, c := range append(slices.Clone(tmpl.Spec.InitContainers), tmpl.Spec.Containers...) {
				// A misspelt resource name is a valid map key to the API.
				for _, list := range []corev1.ResourceList{c.Resources.Requests, c.Resources.Limits} {
					for r := range list {
						if !k8sKnownResource(r) {
							t.Errorf("container %s: resource %q is no resource the kubelet knows", c.Name, r)
						}
					}
				}
				for _, r := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
					req, hasReq := c.Resources.Requests[r]
					lim, hasLim := c.Resources.Limits[r]
					if !hasReq || !hasLim {
						t.Errorf("container %s: %s request set %v, limit set %v, want both", c.Name, r, hasReq, hasLim)
					} else if req.Cmp(lim) > 0 {
						t.Errorf("container %s: %s request %s is above its limit %s", c.Name, r, req.String(), lim.String())
					}
				}
			}
			ann := tmpl.Annotations
			if ann["dapr.io/enabled"] != "true" {
				return
			}
			for _, r := range []string{"cpu", "memory"} {
				reqKey, limKey := "dapr.io/sidecar-"+r+"-request", "dapr.io/sidecar-"+r+"-limit"
				req, errReq := resource.ParseQuantity(ann[reqKey])
				lim, errLim := resource.ParseQuantity(ann[limKey])
				if errReq != nil || errLim != nil {
					t.Errorf("the Dapr sidecar's %s: %s = %q, %s = %q, want two quantities", r, reqKey, ann[reqKey], limKey, ann[limKey])
				} else if req.Cmp(lim) > 0 {
					t.Errorf("the Dapr sidecar's %s request %s is above its limit %s", r, req.String(), lim.String())
				}
			}
		})
	}
}

// k8sKnownResource reports whether a container resource name is one of the
// kubelet's own (cpu, memory, ephemeral-storage, hugepages-<size>) or an
// extended resource (a domain-prefixed name).
func k8sKnownResource(r corev1.ResourceName) bool {
	switch r {
	case corev1.ResourceCPU, corev1.ResourceMemory, corev1.ResourceEphemeralStorage:
		return true
	}
	return strings.HasPrefix(string(r), corev1.ResourceHugePagesPrefix) || strings.Contains(string(r), "/")
}

// TestKubernetesPodsAreNotPrivileged checks every workload's pods: no
// host namespaces or host paths, not privileged, no privilege escalation,
// every capability dropped and none added, a non-root user, a read-only
// root filesystem and the runtime's default seccomp profile.
func TestKubernetesPodsAreNotPrivileged(t *testing.T) {
	m := k8sLoad(t)
	templates := k8sPodTemplates(m)
	for _, name := range k8sKeys(templates) {
		spec := templates[name].Spec
		t.Run(name, func(t *testing.T) {
			if spec.HostNetwork || spec.HostPID || spec.HostIPC {
				t.Errorf("hostNetwork %v, hostPID %v, hostIPC %v: want none", spec.HostNetwork, spec.HostPID, spec.HostIPC)
			}
			for _, v := range spec.Volumes {
				if v.HostPath != nil {
					t.Errorf("volume %s mounts the host path %s", v.Name, v.HostPath.Path)
				}
			}
			pod := spec.SecurityContext
			if pod == nil {
				pod = &corev1.PodSecurityContext{}
			}
			if pod.RunAsUser != nil && *pod.RunAsUser == 0 {
				t.Error("the pod runs as user 0")
			}
			for _, c := range append(slices.Clone(spec.InitContainers), spec.Containers...) {
				ctr := c.SecurityContext
				if ctr == nil {
					ctr = &corev1.SecurityContext{}
				}
				if k8sIsTrue(ctr.Privileged) {
					t.Errorf("container %s is privileged", c.Name)
				}
				if ctr.AllowPrivilegeEscalation == nil || *ctr.AllowPrivilegeEscalation {
					t.Errorf("container %s: allowPrivilegeEscalation is not false", c.Name)
				}
				if !k8sIsTrue(ctr.RunAsNonRoot) && !k8sIsTrue(pod.RunAsNonRoot) {
					t.Errorf("container %s: runAsNonRoot is not true (pod or container)", c.Name)
				}
				if ctr.RunAsUser != nil && *ctr.RunAsUser == 0 {
					t.Errorf("container %s runs as user 0", c.Name)
				}
				if !k8sIsTrue(ctr.ReadOnlyRootFilesystem) {
					t.Errorf("container %s: readOnlyRootFilesystem is not true", c.Name)
				}
				if ctr.Capabilities == nil || !slices.Contains(ctr.Capabilities.Drop, "ALL") {
					t.Errorf("container %s: capabilities.drop does not hold ALL", c.Name)
				} else if len(ctr.Capabilities.Add) > 0 {
					t.Errorf("container %s adds capabilities %v", c.Name, ctr.Capabilities.Add)
				}
				seccomp := pod.SeccompProfile
				if ctr.SeccompProfile != nil {
					seccomp = ctr.SeccompProfile
				}
				if seccomp == nil || seccomp.Type != corev1.SeccompProfileTypeRuntimeDefault {
					t.Errorf("container %s: seccompProfile %v, want RuntimeDefault (pod or container)", c.Name, seccomp)
				}
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
			d := k8sTyped[appsv1.Deployment](t, m, "Deployment", a.AppID)
			c := k8sAppContainer(t, d)
			s := k8sTyped[corev1.Service](t, m, "Service", a.AppID)

			allowed := []corev1.ServiceType{"", corev1.ServiceTypeClusterIP}
			if a.AppID == k8sPublicApp {
				allowed = append(allowed, corev1.ServiceTypeLoadBalancer)
			}
			if !slices.Contains(allowed, s.Spec.Type) {
				t.Errorf("type = %q, want one of %q", s.Spec.Type, allowed)
			}
			if len(s.Spec.Selector) == 0 {
				t.Error("selector is empty")
			}
			for k, v := range s.Spec.Selector {
				if d.Spec.Template.Labels[k] != v {
					t.Errorf("selector %s=%s does not select the %s pods", k, v, a.AppID)
				}
			}
			found := false
			for _, p := range s.Spec.Ports {
				target := p.TargetPort
				if target.Type == intstr.Int && target.IntVal == 0 {
					target = intstr.FromInt32(p.Port)
				}
				if int(p.Port) == a.AppPort && k8sPort(c, target) == a.AppPort {
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
	check     func(local, k8s *daprComponentItem) error
}

// TestKubernetesComponentsMatchLocal checks that the Kubernetes components
// are components/*.yaml (names, types, versions, scopes, settings) except
// for the intended differences: Redis in the cluster, its password and the
// secrets from Kubernetes Secrets.
func TestKubernetesComponentsMatchLocal(t *testing.T) {
	m := k8sLoad(t)
	decode := func(ms k8sManifests) map[string]daprComponent {
		out := map[string]daprComponent{}
		for _, o := range ms.kind("Component") {
			var c daprComponent
			daprAs(t, o, &c)
			out[o.Name] = c
		}
		return out
	}
	local, k8s := decode(k8sLoadLocal(t)), decode(m)
	if got, want := k8sKeys(k8s), k8sKeys(local); !slices.Equal(got, want) {
		t.Fatalf("Kubernetes components = %v, want the local ones %v", got, want)
	}

	redisPassword := func(_, k *daprComponentItem) error {
		if k == nil || k.SecretKeyRef == nil || k.Value != nil {
			return errors.New("want only a secretKeyRef")
		}
		return k8sSecretKey(t, m, k.SecretKeyRef.Name, k.SecretKeyRef.Key)
	}
	differences := []k8sComponentDifference{
		{item: "redisHost", check: func(_, k *daprComponentItem) error {
			if k == nil || k.Value != k8sRedisHost {
				return fmt.Errorf("want %q", k8sRedisHost)
			}
			return nil
		}},
		{item: "redisPassword", check: redisPassword},
		// The local file store's settings have no Kubernetes counterpart.
		{component: "finflow-secrets", item: "secretsFile", check: func(_, k *daprComponentItem) error {
			if k != nil {
				return errors.New("want none: Kubernetes Secrets, not a file")
			}
			return nil
		}},
		{component: "finflow-secrets", item: "multiValued", check: func(_, k *daprComponentItem) error {
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
				var lp, kp *daprComponentItem
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
				if strings.Contains(strings.ToLower(it.Name), "password") && it.Value != nil && it.Value != "" {
					t.Errorf("metadata %s holds a value, want a secretKeyRef", it.Name)
				}
			}
		})
	}
}

// k8sItemString shows a component metadata item in a failure message.
func k8sItemString(it *daprComponentItem) string {
	switch {
	case it == nil:
		return "(absent)"
	case it.SecretKeyRef != nil:
		return fmt.Sprintf("secretKeyRef %s/%s", it.SecretKeyRef.Name, it.SecretKeyRef.Key)
	case it.Value != nil:
		return fmt.Sprintf("%q", fmt.Sprint(it.Value))
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
			Spec   any      `json:"spec"`
			Scopes []string `json:"scopes"`
		}
		daprAs(t, rs[0], &r)
		if len(r.Scopes) != 0 {
			t.Errorf("%s: Resiliency scopes = %v, want none (every sidecar)", where, r.Scopes)
		}
		if r.Spec == nil {
			t.Fatalf("%s: Resiliency has no spec", where)
		}
		return rs[0].Name, r.Spec
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
			d := k8sTyped[appsv1.Deployment](t, m, "Deployment", a.AppID)
			name := d.Spec.Template.Annotations["dapr.io/config"]
			o, ok := m.get("Configuration", name)
			if !ok {
				t.Fatalf("no Configuration %q (dapr.io/config)", name)
			}
			var k daprConfiguration
			daprAs(t, o, &k)

			secure := daprResources(t, filepath.Join(root, "config", "secure", a.AppID+".yaml")).kind("Configuration")
			if len(secure) != 1 {
				t.Fatalf("config/secure/%s.yaml: %d Configurations, want 1", a.AppID, len(secure))
			}
			if name != secure[0].Name {
				t.Errorf("Configuration name = %q, want %q (config/secure)", name, secure[0].Name)
			}
			var l daprConfiguration
			daprAs(t, secure[0], &l)

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

// TestLocalConfigurationsSayMTLS checks that every Configuration a local
// run uses states spec.mtls as the run has it: off in config/ (dapr run -f .,
// no Sentry), on in config/secure/ (make run, make test, Compose). A
// self-hosted daprd ignores the field, but dashboard 0.15.0's Configurations
// page dereferences it and fails on a Configuration without it.
func TestLocalConfigurationsSayMTLS(t *testing.T) {
	root := k8sRoot(t)
	for _, tc := range []struct {
		pattern string
		want    bool
	}{{"config/*.yaml", false}, {"config/secure/*.yaml", true}} {
		files, err := filepath.Glob(filepath.Join(root, tc.pattern))
		if err != nil {
			t.Fatal(err)
		}
		seen := 0
		for _, f := range files {
			if raw, err := os.ReadFile(f); err != nil || !strings.Contains(string(raw), "kind: Configuration") {
				continue // not a Dapr resource (runtime-settings.yaml)
			}
			for _, o := range daprResources(t, f).kind("Configuration") {
				seen++
				var c daprConfiguration
				daprAs(t, o, &c)
				rel, _ := filepath.Rel(root, f)
				switch {
				case c.Spec.MTLS == nil || c.Spec.MTLS.Enabled == nil:
					t.Errorf("%s: Configuration %q has no spec.mtls.enabled (want %v)", rel, o.Name, tc.want)
				case *c.Spec.MTLS.Enabled != tc.want:
					t.Errorf("%s: spec.mtls.enabled = %v, want %v", rel, *c.Spec.MTLS.Enabled, tc.want)
				}
			}
		}
		if seen == 0 {
			t.Errorf("no Configuration found in %s", tc.pattern)
		}
	}
}

// TestKubernetesAutoscalers checks the HorizontalPodAutoscalers: the gateway
// and the payment service, on CPU utilisation, and nothing else.
func TestKubernetesAutoscalers(t *testing.T) {
	m := k8sLoad(t)
	hpas := map[string]*autoscalingv2.HorizontalPodAutoscaler{}
	for _, o := range m.kind("HorizontalPodAutoscaler") {
		if got := o.GVK.GroupVersion().String(); got != "autoscaling/v2" {
			t.Errorf("%s: apiVersion = %q, want autoscaling/v2", o, got)
		}
		h := o.Object.(*autoscalingv2.HorizontalPodAutoscaler)
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
			d := k8sTyped[appsv1.Deployment](t, m, "Deployment", target)
			if d.Spec.Replicas != nil {
				t.Errorf("Deployment %s sets replicas: every `kubectl apply` would undo the autoscaler", target)
			}
			if h.Spec.MinReplicas == nil || *h.Spec.MinReplicas < 1 || *h.Spec.MinReplicas > h.Spec.MaxReplicas {
				t.Errorf("minReplicas = %v, maxReplicas = %d, want 1 <= min <= max", h.Spec.MinReplicas, h.Spec.MaxReplicas)
			}
			cpu := false
			for _, mt := range h.Spec.Metrics {
				if mt.Type == autoscalingv2.ResourceMetricSourceType && mt.Resource != nil && mt.Resource.Name == corev1.ResourceCPU &&
					mt.Resource.Target.Type == autoscalingv2.UtilizationMetricType && mt.Resource.Target.AverageUtilization != nil &&
					*mt.Resource.Target.AverageUtilization > 0 && *mt.Resource.Target.AverageUtilization <= 100 {
					cpu = true
				}
			}
			if !cpu {
				t.Error("no Resource metric on cpu Utilization with averageUtilization in (0, 100]")
			}
			for _, c := range d.Spec.Template.Spec.Containers {
				if _, ok := c.Resources.Requests[corev1.ResourceCPU]; !ok {
					t.Errorf("container %s has no cpu request: utilisation cannot be computed", c.Name)
				}
			}
			if d.Spec.Template.Annotations["dapr.io/sidecar-cpu-request"] == "" {
				t.Error("the sidecar has no cpu request (dapr.io/sidecar-cpu-request): utilisation cannot be computed")
			}
		})
	}
}

// TestKubernetesSecretsHoldOnlyTestModePlaceholders checks that every
// Secret is marked test-mode and holds only marked placeholders; that the
// secrets the services read have config/test-mode-secrets.json's keys; and
// that none of that file's values was copied into an object.
func TestKubernetesSecretsHoldOnlyTestModePlaceholders(t *testing.T) {
	m := k8sLoad(t)
	secrets := m.kind("Secret")
	if len(secrets) == 0 {
		t.Fatal("no Secrets")
	}
	for _, o := range secrets {
		s := o.Object.(*corev1.Secret)
		if o.Labels[k8sTestModeLabel] != "true" {
			t.Errorf("%s: label %s = %q, want \"true\"", o, k8sTestModeLabel, o.Labels[k8sTestModeLabel])
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
	for _, name := range k8sKeys(local) {
		t.Run(name, func(t *testing.T) {
			o, ok := m.get("Secret", name)
			if !ok {
				t.Fatalf("no Secret %q (the services read it through finflow-secrets)", name)
			}
			s := o.Object.(*corev1.Secret)
			if got, want := k8sKeys(s.StringData), k8sKeys(local[name]); !slices.Equal(got, want) {
				t.Errorf("keys = %v, want config/test-mode-secrets.json's %v", got, want)
			}
			for k, v := range local[name] {
				if len(v) < 8 || k == "mode" {
					continue
				}
				quoted, _ := json.Marshal(v)
				needle := strings.Trim(string(quoted), `"`) // as it stands inside the objects' JSON
				for _, obj := range m {
					if strings.Contains(string(obj.JSON), needle) {
						t.Errorf("%s holds the local test-mode value of %s.%s: want a placeholder", obj, name, k)
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
		for _, rule := range o.Object.(*rbacv1.Role).Rules {
			if len(rule.ResourceNames) == 0 || !slices.Equal(rule.Verbs, []string{"get"}) || !slices.Equal(rule.Resources, []string{"secrets"}) {
				t.Errorf("%s: rule %+v, want only get on named secrets", o, rule)
			}
		}
	}
	if len(m.kind("ClusterRole"))+len(m.kind("ClusterRoleBinding")) > 0 {
		t.Error("cluster-wide roles or bindings: FinFlow's apps need only their namespace")
	}
	for _, a := range k8sApps(t) {
		t.Run(a.AppID, func(t *testing.T) {
			want, ok := reads[a.AppID]
			if !ok {
				t.Fatalf("app %s is new: add the secrets it reads to this test", a.AppID)
			}
			sa := k8sTyped[appsv1.Deployment](t, m, "Deployment", a.AppID).Spec.Template.Spec.ServiceAccountName
			var granted []string
			for _, o := range m.kind("RoleBinding") {
				b := o.Object.(*rbacv1.RoleBinding)
				bound := slices.ContainsFunc(b.Subjects, func(s rbacv1.Subject) bool {
					return s.Kind == "ServiceAccount" && s.Name == sa && s.Namespace == k8sNamespace
				})
				if !bound || b.RoleRef.Kind != "Role" {
					continue
				}
				ro, ok := m.get("Role", b.RoleRef.Name)
				if !ok {
					t.Errorf("%s binds missing Role %q", o, b.RoleRef.Name)
					continue
				}
				for _, rule := range ro.Object.(*rbacv1.Role).Rules {
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
	so, ok := m.get("Service", name)
	if !ok {
		t.Fatalf("no Service %q for %s", name, k8sRedisHost)
	}
	s := so.Object.(*corev1.Service)
	if !slices.ContainsFunc(s.Spec.Ports, func(p corev1.ServicePort) bool { return strconv.Itoa(int(p.Port)) == port }) {
		t.Errorf("Service %s has no port %s", name, port)
	}

	var workload k8sObject
	var labels map[string]string
	if o, ok := m.get("StatefulSet", name); ok {
		workload, labels = o, o.Object.(*appsv1.StatefulSet).Spec.Template.Labels
	} else if o, ok := m.get("Deployment", name); ok {
		workload, labels = o, o.Object.(*appsv1.Deployment).Spec.Template.Labels
	} else {
		t.Fatalf("no StatefulSet or Deployment %q", name)
	}
	for k, v := range s.Spec.Selector {
		if labels[k] != v {
			t.Errorf("Service %s selector %s=%s does not select %s", name, k, v, workload)
		}
	}
	for _, o := range []k8sObject{so, workload} {
		if p := o.Annotations["finflow.io/purpose"]; !strings.Contains(p, "development only") {
			t.Errorf("%s: annotation finflow.io/purpose = %q, want it marked development only", o, p)
		}
	}

	c := k8sAppContainer(t, k8sTyped[appsv1.Deployment](t, m, "Deployment", k8sPublicApp))
	if e, _ := k8sEnv(c, "REDIS_ADDR"); e.Value != k8sRedisHost {
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
	var local map[string]any // gopkg.in/yaml.v3: whole numbers stay ints
	if err := yaml.Unmarshal(raw, &local); err != nil {
		t.Fatalf("parsing config/runtime-settings.yaml: %v", err)
	}
	cm := k8sTyped[corev1.ConfigMap](t, m, "ConfigMap", "finflow-settings-seed")
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
	job := k8sTyped[batchv1.Job](t, m, "Job", "finflow-settings-seed")
	mounted := slices.ContainsFunc(job.Spec.Template.Spec.Volumes, func(v corev1.Volume) bool {
		return v.ConfigMap != nil && v.ConfigMap.Name == cm.Name
	})
	if !mounted {
		t.Errorf("Job %s does not mount ConfigMap %s: it would seed nothing", job.Name, cm.Name)
	}
}
