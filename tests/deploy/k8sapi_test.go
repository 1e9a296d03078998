package deploy

// What the Kubernetes checks read the manifests with, so that they see what
// the API server would: deploy/kubernetes rendered by kustomize (the library
// kubectl apply -k uses), every Kubernetes object decoded strictly into the
// k8s.io/api types (an unknown, misspelt or mistyped field fails), and every
// Dapr object checked against the CRD schemas of the Dapr release FinFlow
// runs (charts/dapr/crds of github.com/dapr/dapr, from the module cache),
// as the API server's strict field validation would. The annotations Dapr's
// sidecar injector reads, with their types, come from the same source.

import (
	"bytes"
	"encoding/json"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"
	sigsyaml "sigs.k8s.io/yaml"
)

const (
	// daprModule is the module whose CRDs and injector define Dapr's API.
	daprModule = "github.com/dapr/dapr"
	// daprVersionPrefix is the Dapr release FinFlow runs (daprd 1.14).
	daprVersionPrefix = "v1.14."
	// daprGroup is the API group of Dapr's resources.
	daprGroup = "dapr.io"
)

// k8sObject is one rendered object: its identity, its JSON, and the
// decoded value (a typed Kubernetes object, or for Dapr's kinds the JSON
// decoded into any after the CRD check).
type k8sObject struct {
	GVK         schema.GroupVersionKind
	Name        string
	Namespace   string
	Labels      map[string]string
	Annotations map[string]string
	JSON        []byte
	Object      any
}

func (o k8sObject) String() string { return fmt.Sprintf("%s %q", o.GVK.Kind, o.Name) }

// k8sManifests is a set of decoded objects.
type k8sManifests []k8sObject

// kind returns the objects of one kind.
func (m k8sManifests) kind(kind string) k8sManifests {
	var out k8sManifests
	for _, o := range m {
		if o.GVK.Kind == kind {
			out = append(out, o)
		}
	}
	return out
}

// get returns the object of that kind and name.
func (m k8sManifests) get(kind, name string) (k8sObject, bool) {
	for _, o := range m {
		if o.GVK.Kind == kind && o.Name == name {
			return o, true
		}
	}
	return k8sObject{}, false
}

// k8sTyped returns the typed object of that kind and name (T is its
// k8s.io/api type), failing the test when there is none.
func k8sTyped[T any](tb testing.TB, m k8sManifests, kind, name string) *T {
	tb.Helper()
	o, ok := m.get(kind, name)
	if !ok {
		tb.Fatalf("no %s %q in %s", kind, name, k8sDir)
	}
	v, ok := o.Object.(*T)
	if !ok {
		tb.Fatalf("%s decoded as %T, not %T", o, o.Object, new(T))
	}
	return v
}

// k8sScheme knows every Kubernetes API group the manifests may use; a kind
// outside it (and outside Dapr's) is refused.
var k8sScheme = sync.OnceValue(func() *runtime.Scheme {
	s := runtime.NewScheme()
	for _, add := range []func(*runtime.Scheme) error{
		corev1.AddToScheme, appsv1.AddToScheme, batchv1.AddToScheme, autoscalingv2.AddToScheme,
		rbacv1.AddToScheme, policyv1.AddToScheme, networkingv1.AddToScheme,
	} {
		if err := add(s); err != nil {
			panic(err)
		}
	}
	return s
})

// k8sStrict decodes with the API machinery's strict mode: unknown and
// duplicate fields are errors, as `kubectl apply --validate=strict`.
var k8sStrict = sync.OnceValue(func() runtime.Decoder {
	return serializer.NewCodecFactory(k8sScheme(), serializer.EnableStrict).UniversalDeserializer()
})

// k8sDecode decodes one object's JSON: Kubernetes kinds strictly into
// their types, Dapr kinds against Dapr's CRD schema. It returns every
// problem found.
func k8sDecode(tb testing.TB, raw []byte) (k8sObject, error) {
	tb.Helper()
	var head struct {
		APIVersion string            `json:"apiVersion"`
		Kind       string            `json:"kind"`
		Metadata   metav1.ObjectMeta `json:"metadata"`
	}
	if err := json.Unmarshal(raw, &head); err != nil {
		return k8sObject{}, fmt.Errorf("not a Kubernetes object: %w", err)
	}
	gv, err := schema.ParseGroupVersion(head.APIVersion)
	if err != nil || head.Kind == "" || head.Metadata.Name == "" {
		return k8sObject{}, fmt.Errorf("apiVersion %q, kind %q, metadata.name %q: all three are required", head.APIVersion, head.Kind, head.Metadata.Name)
	}
	o := k8sObject{GVK: gv.WithKind(head.Kind), Name: head.Metadata.Name, Namespace: head.Metadata.Namespace,
		Labels: head.Metadata.Labels, Annotations: head.Metadata.Annotations, JSON: raw}
	if gv.Group == daprGroup {
		v, err := daprDecode(tb, raw)
		o.Object = v
		return o, err
	}
	if !k8sScheme().Recognizes(o.GVK) {
		return o, fmt.Errorf("%s: %s is no kind of the Kubernetes API groups FinFlow uses (or is misspelt)", o, o.GVK)
	}
	obj, _, err := k8sStrict().Decode(raw, nil, nil)
	if err != nil {
		return o, fmt.Errorf("%s: %w", o, err)
	}
	o.Object = obj
	return o, nil
}

// k8sRendered renders deploy/kubernetes once per test binary.
var k8sRendered = sync.OnceValues(func() ([][]byte, error) {
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		return nil, err
	}
	opts := krusty.MakeDefaultOptions()
	opts.Reorder = krusty.ReorderOptionUnspecified // kustomization.yaml's sortOptions decide
	k := krusty.MakeKustomizer(opts)
	rm, err := k.Run(filesys.MakeFsOnDisk(), filepath.Join(root, k8sDir))
	if err != nil {
		return nil, fmt.Errorf("kustomize build %s: %w", k8sDir, err)
	}
	var out [][]byte
	for _, r := range rm.Resources() {
		b, err := r.MarshalJSON()
		if err != nil {
			return nil, fmt.Errorf("%s: %w", r.CurId(), err)
		}
		out = append(out, b)
	}
	return out, nil
})

// k8sLoad returns every object `kubectl apply -k deploy/kubernetes` would
// send, in its order, each decoded; any object that does not decode fails
// the test.
func k8sLoad(tb testing.TB) k8sManifests {
	tb.Helper()
	raws, err := k8sRendered()
	if err != nil {
		tb.Fatal(err)
	}
	if len(raws) == 0 {
		tb.Fatalf("kustomize rendered no objects from %s", k8sDir)
	}
	var m k8sManifests
	for _, raw := range raws {
		o, err := k8sDecode(tb, raw)
		if err != nil {
			tb.Fatalf("%s: %v", k8sDir, err)
		}
		m = append(m, o)
	}
	return m
}

// yamlDocuments returns the JSON of every non-empty YAML document of a file.
func yamlDocuments(tb testing.TB, path string) [][]byte {
	tb.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		tb.Fatal(err)
	}
	var out [][]byte
	for i, doc := range splitYAML(raw) {
		j, err := sigsyaml.YAMLToJSONStrict(doc)
		if err != nil {
			tb.Fatalf("%s, document %d: %v", path, i, err)
		}
		if string(j) != "null" {
			out = append(out, j)
		}
	}
	return out
}

// splitYAML splits a multi-document YAML file at its "---" lines.
func splitYAML(raw []byte) [][]byte {
	var docs [][]byte
	var cur bytes.Buffer
	for _, line := range bytes.SplitAfter(raw, []byte("\n")) {
		if t := bytes.TrimRight(line, " \t\r\n"); string(t) == "---" {
			docs = append(docs, bytes.Clone(cur.Bytes()))
			cur.Reset()
			continue
		}
		cur.Write(line)
	}
	return append(docs, cur.Bytes())
}

// daprResources decodes the Dapr resources of local YAML files (components/,
// config/) exactly as the rendered ones, CRD check included.
func daprResources(tb testing.TB, files ...string) k8sManifests {
	tb.Helper()
	var m k8sManifests
	for _, f := range files {
		for _, raw := range yamlDocuments(tb, f) {
			o, err := k8sDecode(tb, raw)
			if err != nil {
				tb.Fatalf("%s: %v", f, err)
			}
			m = append(m, o)
		}
	}
	return m
}

// daprModuleDir returns the folder of the Dapr module the tests module
// requires (downloading it into the module cache if needed).
var daprModuleDir = sync.OnceValues(func() (string, error) {
	goCmd, err := exec.LookPath("go")
	if err != nil {
		return "", fmt.Errorf("the go command is needed to find %s's CRDs: %w", daprModule, err)
	}
	out, err := exec.Command(goCmd, "mod", "download", "-json", daprModule).Output()
	if err != nil {
		return "", fmt.Errorf("go mod download %s: %w", daprModule, err)
	}
	var mod struct{ Version, Dir, Error string }
	if err := json.Unmarshal(out, &mod); err != nil || mod.Error != "" || mod.Dir == "" {
		return "", fmt.Errorf("go mod download %s: %s %v", daprModule, mod.Error, err)
	}
	if !strings.HasPrefix(mod.Version, daprVersionPrefix) {
		return "", fmt.Errorf("%s is %s in the tests module, want %sx (the daprd FinFlow runs)", daprModule, mod.Version, daprVersionPrefix)
	}
	return mod.Dir, nil
})

// crdSchema is the part of an OpenAPI v3 structural schema a CRD uses.
type crdSchema struct {
	Type                 string                `json:"type"`
	Properties           map[string]*crdSchema `json:"properties"`
	Items                *crdSchema            `json:"items"`
	Required             []string              `json:"required"`
	AdditionalProperties *crdAdditional        `json:"additionalProperties"`
	PreserveUnknown      bool                  `json:"x-kubernetes-preserve-unknown-fields"`
	IntOrString          bool                  `json:"x-kubernetes-int-or-string"`
	Enum                 []any                 `json:"enum"`
}

// crdAdditional is additionalProperties: a schema, or true for anything.
type crdAdditional struct {
	Any    bool
	Schema *crdSchema
}

func (a *crdAdditional) UnmarshalJSON(b []byte) error {
	if err := json.Unmarshal(b, &a.Any); err == nil {
		return nil
	}
	return json.Unmarshal(b, &a.Schema)
}

// daprSchemas maps each Dapr kind to its v1alpha1 schema, from the Dapr
// module's CRDs.
var daprSchemas = sync.OnceValues(func() (map[string]*crdSchema, error) {
	dir, err := daprModuleDir()
	if err != nil {
		return nil, err
	}
	files, _ := filepath.Glob(filepath.Join(dir, "charts", "dapr", "crds", "*.yaml"))
	out := map[string]*crdSchema{}
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			return nil, err
		}
		for _, doc := range splitYAML(raw) {
			var crd struct {
				Spec struct {
					Group string `json:"group"`
					Names struct {
						Kind string `json:"kind"`
					} `json:"names"`
					Versions []struct {
						Name   string `json:"name"`
						Schema struct {
							OpenAPIV3Schema *crdSchema `json:"openAPIV3Schema"`
						} `json:"schema"`
					} `json:"versions"`
				} `json:"spec"`
			}
			if err := sigsyaml.Unmarshal(doc, &crd); err != nil {
				return nil, fmt.Errorf("%s: %w", f, err)
			}
			for _, v := range crd.Spec.Versions {
				if crd.Spec.Group == daprGroup && v.Name == "v1alpha1" && v.Schema.OpenAPIV3Schema != nil {
					out[crd.Spec.Names.Kind] = v.Schema.OpenAPIV3Schema
				}
			}
		}
	}
	for _, k := range []string{"Component", "Configuration", "Resiliency"} {
		if out[k] == nil {
			return nil, fmt.Errorf("no v1alpha1 CRD schema for %s in %s", k, filepath.Join(dir, "charts", "dapr", "crds"))
		}
	}
	return out, nil
})

// daprDecode checks a Dapr object against its CRD schema (its metadata
// strictly as ObjectMeta) and returns it decoded into any.
func daprDecode(tb testing.TB, raw []byte) (any, error) {
	tb.Helper()
	schemas, err := daprSchemas()
	if err != nil {
		tb.Fatal(err)
	}
	var obj map[string]any
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if err := dec.Decode(&obj); err != nil {
		return nil, err
	}
	kind, _ := obj["kind"].(string)
	s, ok := schemas[kind]
	if !ok || obj["apiVersion"] != daprGroup+"/v1alpha1" {
		return obj, fmt.Errorf("%s %v: Dapr 1.14 has no such kind (%v)", kind, obj["apiVersion"], slices.Sorted(mapKeys(schemas)))
	}
	var problems []string
	if md, err := json.Marshal(obj["metadata"]); err == nil {
		var meta metav1.ObjectMeta
		d := json.NewDecoder(bytes.NewReader(md))
		d.DisallowUnknownFields()
		if err := d.Decode(&meta); err != nil {
			problems = append(problems, "metadata: "+err.Error())
		}
	}
	crdCheck(s, obj, "", &problems, true)
	if len(problems) > 0 {
		name, _ := obj["metadata"].(map[string]any)["name"].(string)
		return obj, fmt.Errorf("%s %q against Dapr's CRD: %s", kind, name, strings.Join(problems, "; "))
	}
	return obj, nil
}

// crdCheck validates v against s as a structural schema: unknown fields,
// wrong types and missing required fields are problems. metadata at the
// top is checked apart (it is ObjectMeta).
func crdCheck(s *crdSchema, v any, path string, problems *[]string, top bool) {
	add := func(format string, args ...any) {
		*problems = append(*problems, strings.TrimPrefix(path, ".")+": "+fmt.Sprintf(format, args...))
	}
	if s == nil || s.PreserveUnknown {
		return
	}
	if s.IntOrString {
		switch v.(type) {
		case string, json.Number:
		default:
			add("want an integer or a string, got %T", v)
		}
		return
	}
	typ := s.Type
	if typ == "" && s.Properties != nil {
		typ = "object"
	}
	switch typ {
	case "object":
		m, ok := v.(map[string]any)
		if !ok {
			add("want an object, got %T", v)
			return
		}
		for _, r := range s.Required {
			if _, ok := m[r]; !ok {
				add("required field %q is missing", r)
			}
		}
		for _, k := range slices.Sorted(mapKeys(m)) {
			if top && k == "metadata" {
				continue
			}
			switch sub, known := s.Properties[k]; {
			case known:
				crdCheck(sub, m[k], path+"."+k, problems, false)
			case s.AdditionalProperties != nil && s.AdditionalProperties.Schema != nil:
				crdCheck(s.AdditionalProperties.Schema, m[k], path+"."+k, problems, false)
			case s.AdditionalProperties != nil && s.AdditionalProperties.Any, s.Properties == nil && s.AdditionalProperties == nil:
				// A free-form object.
			default:
				add("unknown field %q (known: %s)", k, strings.Join(slices.Sorted(mapKeys(s.Properties)), ", "))
			}
		}
	case "array":
		a, ok := v.([]any)
		if !ok {
			add("want an array, got %T", v)
			return
		}
		for i, e := range a {
			crdCheck(s.Items, e, fmt.Sprintf("%s[%d]", path, i), problems, false)
		}
	case "string":
		if _, ok := v.(string); !ok {
			add("want a string, got %T %v", v, v)
		}
	case "integer":
		n, ok := v.(json.Number)
		if _, err := n.Int64(); !ok || err != nil {
			add("want an integer, got %T %v", v, v)
		}
	case "number":
		if _, ok := v.(json.Number); !ok {
			add("want a number, got %T %v", v, v)
		}
	case "boolean":
		if _, ok := v.(bool); !ok {
			add("want a boolean, got %T %v", v, v)
		}
	}
	if len(s.Enum) > 0 && !slices.ContainsFunc(s.Enum, func(e any) bool { return fmt.Sprint(e) == fmt.Sprint(v) }) {
		add("%v is not one of %v", v, s.Enum)
	}
}

func mapKeys[V any](m map[string]V) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

// daprAs decodes a Dapr object (already checked against its CRD) into v.
func daprAs(tb testing.TB, o k8sObject, v any) {
	tb.Helper()
	if err := json.Unmarshal(o.JSON, v); err != nil {
		tb.Fatalf("decoding %s: %v", o, err)
	}
}

// daprAnnotationKind is the Go type Dapr 1.14's injector reads an
// annotation into: "bool", "int", "string" (pointers unwrapped).
type daprAnnotationKind string

// daprAnnotations returns every pod annotation Dapr's sidecar injector
// reads, with its type, from the SidecarConfig struct of the Dapr module
// (pkg/injector/patcher/sidecar.go): any other dapr.io/ key is one Dapr
// would silently ignore.
var daprAnnotations = sync.OnceValues(func() (map[string]daprAnnotationKind, error) {
	dir, err := daprModuleDir()
	if err != nil {
		return nil, err
	}
	file := filepath.Join(dir, "pkg", "injector", "patcher", "sidecar.go")
	f, err := parser.ParseFile(token.NewFileSet(), file, nil, parser.SkipObjectResolution)
	if err != nil {
		return nil, err
	}
	out := map[string]daprAnnotationKind{}
	ast.Inspect(f, func(n ast.Node) bool {
		ts, ok := n.(*ast.TypeSpec)
		if !ok || ts.Name.Name != "SidecarConfig" {
			return true
		}
		st, _ := ts.Type.(*ast.StructType)
		for _, fld := range st.Fields.List {
			if fld.Tag == nil {
				continue
			}
			tag, _ := strconv.Unquote(fld.Tag.Value)
			key := reflect.StructTag(tag).Get("annotation")
			if key == "" {
				continue
			}
			typ := fld.Type
			if star, ok := typ.(*ast.StarExpr); ok {
				typ = star.X
			}
			kind := daprAnnotationKind("string")
			if id, ok := typ.(*ast.Ident); ok {
				switch id.Name {
				case "bool":
					kind = "bool"
				case "int", "int32", "int64":
					kind = "int"
				}
			}
			out[key] = kind
		}
		return false
	})
	if len(out) < 20 {
		return nil, fmt.Errorf("%s: found %d annotations in SidecarConfig; has Dapr's injector moved?", file, len(out))
	}
	return out, nil
})

// goRoutes returns the literal paths of the GET routes registered in the
// Go files of dirs (calls of the form x.Get("/path", ...)), tests left out.
func goRoutes(tb testing.TB, dirs ...string) []string {
	tb.Helper()
	var out []string
	for _, dir := range dirs {
		err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
			if err != nil || d.IsDir() || !strings.HasSuffix(p, ".go") || strings.HasSuffix(p, "_test.go") {
				return err
			}
			f, err := parser.ParseFile(token.NewFileSet(), p, nil, parser.SkipObjectResolution)
			if err != nil {
				return err
			}
			ast.Inspect(f, func(n ast.Node) bool {
				call, ok := n.(*ast.CallExpr)
				if !ok || len(call.Args) < 2 {
					return true
				}
				sel, ok := call.Fun.(*ast.SelectorExpr)
				lit, isLit := call.Args[0].(*ast.BasicLit)
				if ok && sel.Sel.Name == "Get" && isLit && lit.Kind == token.STRING {
					if s, err := strconv.Unquote(lit.Value); err == nil && strings.HasPrefix(s, "/") {
						out = append(out, s)
					}
				}
				return true
			})
			return nil
		})
		if err != nil {
			tb.Fatalf("reading the routes in %s: %v", dir, err)
		}
	}
	return out
}

// callsServiceMain reports whether a service's main.go runs the shared
// lifecycle (platform/service.Main), which registers the probes.
func callsServiceMain(tb testing.TB, mainFile string) bool {
	tb.Helper()
	f, err := parser.ParseFile(token.NewFileSet(), mainFile, nil, parser.SkipObjectResolution)
	if err != nil {
		tb.Fatal(err)
	}
	found := false
	ast.Inspect(f, func(n ast.Node) bool {
		if sel, ok := n.(*ast.SelectorExpr); ok {
			if x, ok := sel.X.(*ast.Ident); ok && x.Name == "service" && sel.Sel.Name == "Main" {
				found = true
			}
		}
		return !found
	})
	return found
}
