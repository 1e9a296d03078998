package topology

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"gopkg.in/yaml.v3"
)

// DefaultRedisAddr is the Redis address written in FinFlow's components.
const DefaultRedisAddr = "localhost:6379"

// MetadataOverride sets one metadata item of every component of a type
// when the launcher starts a topology (a private Redis, a test database).
type MetadataOverride struct {
	// Type is the component type it applies to ("state.postgresql");
	// empty means every component that has the item.
	Type string
	// Name is the metadata item's name ("redisHost", "connectionString").
	Name string
	// Value replaces the item's value.
	Value string
}

// renderResources copies the resource folders into dst with the overrides
// applied to every component, and returns the new folders. Only items the
// component already has are changed. Relative paths inside components
// (secretsFile) stay valid because daprd still runs in the app's folder.
func renderResources(paths []string, dst string, overrides []MetadataOverride) ([]string, error) {
	var out []string
	for i, src := range paths {
		dir := filepath.Join(dst, fmt.Sprintf("%d-%s", i, filepath.Base(src)))
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return nil, err
		}
		entries, err := os.ReadDir(src)
		if err != nil {
			return nil, err
		}
		for _, e := range entries {
			if e.IsDir() || !(strings.HasSuffix(e.Name(), ".yaml") || strings.HasSuffix(e.Name(), ".yml")) {
				continue
			}
			raw, err := os.ReadFile(filepath.Join(src, e.Name()))
			if err != nil {
				return nil, err
			}
			rendered, err := overrideMetadata(raw, overrides)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", filepath.Join(src, e.Name()), err)
			}
			if err := os.WriteFile(filepath.Join(dir, e.Name()), rendered, 0o644); err != nil {
				return nil, err
			}
		}
		out = append(out, dir)
	}
	return out, nil
}

// overrideMetadata applies the overrides to the spec.metadata items of the
// YAML documents of raw.
func overrideMetadata(raw []byte, overrides []MetadataOverride) ([]byte, error) {
	dec := yaml.NewDecoder(bytes.NewReader(raw))
	var docs []*yaml.Node
	for {
		var n yaml.Node
		if err := dec.Decode(&n); err != nil {
			if errors.Is(err, io.EOF) {
				break
			}
			return nil, err
		}
		docs = append(docs, &n)
	}
	for _, d := range docs {
		typ := componentType(d)
		for _, item := range metadataItems(d) {
			for _, o := range overrides {
				if (o.Type == "" || o.Type == typ) && fieldValue(item, "name") == o.Name {
					if v := field(item, "value"); v != nil {
						v.Value = o.Value
					}
				}
			}
		}
	}
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	for _, d := range docs {
		if err := enc.Encode(d); err != nil {
			return nil, err
		}
	}
	_ = enc.Close()
	return buf.Bytes(), nil
}

// componentType is a document's spec.type ("state.redis"), or "".
func componentType(doc *yaml.Node) string {
	root := doc
	if root.Kind == yaml.DocumentNode && len(root.Content) > 0 {
		root = root.Content[0]
	}
	return fieldValue(field(root, "spec"), "type")
}

// RedisHosts returns every redisHost value in the YAML files of paths.
func RedisHosts(paths []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, p := range paths {
		entries, _ := os.ReadDir(p)
		for _, e := range entries {
			if e.IsDir() || !(strings.HasSuffix(e.Name(), ".yaml") || strings.HasSuffix(e.Name(), ".yml")) {
				continue
			}
			raw, err := os.ReadFile(filepath.Join(p, e.Name()))
			if err != nil {
				continue
			}
			dec := yaml.NewDecoder(bytes.NewReader(raw))
			for {
				var n yaml.Node
				if dec.Decode(&n) != nil {
					break
				}
				for _, item := range metadataItems(&n) {
					if fieldValue(item, "name") == "redisHost" {
						if v := fieldValue(item, "value"); v != "" && !seen[v] {
							seen[v] = true
							out = append(out, v)
						}
					}
				}
			}
		}
	}
	return out
}

func metadataItems(doc *yaml.Node) []*yaml.Node {
	root := doc
	if root.Kind == yaml.DocumentNode && len(root.Content) > 0 {
		root = root.Content[0]
	}
	spec := field(root, "spec")
	if spec == nil {
		return nil
	}
	md := field(spec, "metadata")
	if md == nil || md.Kind != yaml.SequenceNode {
		return nil
	}
	return md.Content
}

func field(m *yaml.Node, key string) *yaml.Node {
	if m == nil || m.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			return m.Content[i+1]
		}
	}
	return nil
}

func fieldValue(m *yaml.Node, key string) string {
	if f := field(m, key); f != nil {
		return f.Value
	}
	return ""
}
