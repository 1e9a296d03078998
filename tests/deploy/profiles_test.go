package deploy

// Checks of the PostgreSQL profile (dapr.postgres.yaml,
// profiles/postgres/components) against the default one (dapr.yaml,
// components/): the same apps and component names and scopes, only the
// state stores and the event bus on other servers.

import (
	"bytes"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/finflow/finflow/tools/launcher/runfile"
)

func TestPostgresProfileRunsTheSameApps(t *testing.T) {
	root := composeLoad(t).root
	def, err := runfile.Load(filepath.Join(root, "dapr.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	pg, err := runfile.Load(filepath.Join(root, "dapr.postgres.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if len(pg.Apps) != len(def.Apps) {
		t.Fatalf("dapr.postgres.yaml has %d apps, dapr.yaml %d", len(pg.Apps), len(def.Apps))
	}
	for i := range def.Apps {
		d, p := def.Apps[i], pg.Apps[i]
		if len(p.ResourcesPaths) != 1 || p.ResourcesPaths[0] != filepath.Join(root, "profiles", "postgres", "components") {
			t.Errorf("%s: resources %v, want profiles/postgres/components", p.AppID, p.ResourcesPaths)
		}
		d.ResourcesPaths, p.ResourcesPaths = nil, nil
		if !reflect.DeepEqual(d, p) {
			t.Errorf("app %s differs between dapr.yaml and dapr.postgres.yaml beyond its resources:\n%+v\n%+v", d.AppID, d, p)
		}
	}
}

// profileComponent is what the check reads of a component.
type profileComponent struct {
	file     string
	raw      []byte
	Metadata struct {
		Name string `yaml:"name"`
	} `yaml:"metadata"`
	Kind string `yaml:"kind"`
	Spec struct {
		Type     string `yaml:"type"`
		Metadata []struct {
			Name  string `yaml:"name"`
			Value string `yaml:"value"`
		} `yaml:"metadata"`
	} `yaml:"spec"`
	Scopes []string `yaml:"scopes"`
}

func (c profileComponent) item(name string) string {
	for _, m := range c.Spec.Metadata {
		if m.Name == name {
			return m.Value
		}
	}
	return ""
}

func profileComponents(t *testing.T, dir string) map[string]profileComponent {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(dir, "*.yaml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no components in %s: %v", dir, err)
	}
	out := map[string]profileComponent{}
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var c profileComponent
		if err := yaml.Unmarshal(raw, &c); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		c.file, c.raw = f, raw
		out[c.Kind+"/"+c.Metadata.Name] = c
	}
	return out
}

func TestPostgresProfileComponents(t *testing.T) {
	root := composeLoad(t).root
	def := profileComponents(t, filepath.Join(root, "components"))
	pg := profileComponents(t, filepath.Join(root, "profiles", "postgres", "components"))
	if len(pg) != len(def) {
		t.Errorf("profiles/postgres/components has %d resources, components/ %d", len(pg), len(def))
	}
	prefixes := map[string]string{}
	for key, d := range def {
		p, ok := pg[key]
		if !ok {
			t.Errorf("%s (%s) has no PostgreSQL-profile counterpart", key, filepath.Base(d.file))
			continue
		}
		if !slices.Equal(d.Scopes, p.Scopes) {
			t.Errorf("%s: scopes %v, want those of components/ %v", key, p.Scopes, d.Scopes)
		}
		switch d.Spec.Type {
		case "state.redis":
			if p.Spec.Type != "state.postgresql" {
				t.Errorf("%s: type %s, want state.postgresql", key, p.Spec.Type)
			}
			if len(p.Scopes) != 1 || p.item("tablePrefix") != p.Scopes[0]+"_" {
				t.Errorf("%s: tablePrefix %q for scopes %v, want the one app's name and _", key, p.item("tablePrefix"), p.Scopes)
			}
			if other, dup := prefixes[p.item("tablePrefix")]; dup {
				t.Errorf("%s and %s share a table", key, other)
			}
			prefixes[p.item("tablePrefix")] = key
			// Sidecars sharing Dapr's metadata table race to create it on an
			// empty database and one of them exits (42710, seen in CI).
			if len(p.Scopes) != 1 || p.item("metadataTableName") != p.Scopes[0]+"_dapr_metadata" {
				t.Errorf("%s: metadataTableName %q for scopes %v, want the one app's name and _dapr_metadata", key, p.item("metadataTableName"), p.Scopes)
			}
			if p.item("keyPrefix") != d.item("keyPrefix") {
				t.Errorf("%s: keyPrefix %q, components/ has %q", key, p.item("keyPrefix"), d.item("keyPrefix"))
			}
		case "pubsub.redis":
			if p.Spec.Type != "pubsub.rabbitmq" {
				t.Errorf("%s: type %s, want pubsub.rabbitmq", key, p.Spec.Type)
			}
			for item, want := range map[string]string{"durable": "true", "deletedWhenUnused": "false", "deliveryMode": "2", "publisherConfirm": "true"} {
				if got := p.item(item); got != want {
					t.Errorf("%s: %s = %q, want %q (results must survive a broker restart)", key, item, got, want)
				}
			}
		default:
			if d.Kind == "Resiliency" {
				profileSameResiliency(t, d, p)
				continue
			}
			// Everything else (settings, secrets) is the same file.
			if !bytes.Equal(d.raw, p.raw) {
				t.Errorf("%s differs from %s: the profiles share it, keep them equal", p.file, d.file)
			}
		}
	}
}

// profileSameResiliency checks the PostgreSQL profile's resiliency is the
// default one with no retry on the state stores (an insert conflict is a
// plain error there, which Dapr would retry).
func profileSameResiliency(t *testing.T, d, p profileComponent) {
	t.Helper()
	var def, pg map[string]any
	if err := yaml.Unmarshal(d.raw, &def); err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(p.raw, &pg); err != nil {
		t.Fatal(err)
	}
	comps := func(doc map[string]any) map[string]any {
		spec, _ := doc["spec"].(map[string]any)
		targets, _ := spec["targets"].(map[string]any)
		c, _ := targets["components"].(map[string]any)
		return c
	}
	stores := 0
	for name, target := range comps(def) {
		if !strings.HasSuffix(name, "-store") {
			continue
		}
		stores++
		out, _ := target.(map[string]any)["outbound"].(map[string]any)
		delete(out, "retry")
		if pgOut, _ := comps(pg)[name].(map[string]any)["outbound"].(map[string]any); pgOut["retry"] != nil {
			t.Errorf("%s: state store %s has a retry policy", p.file, name)
		}
	}
	if stores != 6 {
		t.Errorf("components/resiliency.yaml targets %d state stores, want 6", stores)
	}
	if !reflect.DeepEqual(def, pg) {
		t.Errorf("%s differs from %s beyond the state stores' retries", p.file, d.file)
	}
}
