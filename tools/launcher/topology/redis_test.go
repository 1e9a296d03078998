package topology

import (
	"bytes"
	"errors"
	"io"
	"os"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// Every Redis FinFlow starts or describes starts with the keyspace
// notifications Dapr's Redis configuration store needs, so a Redis restarted
// under a running FinFlow still reports settings changes (daprd sets them
// only when it subscribes).
func TestEveryRedisHasKeyspaceEvents(t *testing.T) {
	cases := []struct {
		name string
		args func(testing.TB) []string
	}{
		{"the launcher's (make run)", func(testing.TB) []string { return RedisServerArgs("6379", "/var/redis") }},
		{"docker-compose.yml", composeRedisArgs},
		{"deploy/kubernetes/redis.yaml", kubernetesRedisArgs},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			args := tc.args(t)
			v, ok := flagValue(args, "--notify-keyspace-events")
			if !ok {
				t.Fatalf("redis-server %q: no --notify-keyspace-events, want one covering %q", args, KeyspaceEvents)
			}
			if !coversKeyspaceEvents(v) {
				t.Fatalf("redis-server --notify-keyspace-events %q, want one covering %q", v, KeyspaceEvents)
			}
		})
	}
}

func TestCoversKeyspaceEvents(t *testing.T) {
	cases := []struct {
		value string
		want  bool
	}{
		{"Kg$xe", true},
		{"g$xeK", true},  // as CONFIG GET spells it
		{"KA", true},     // A is g$lshzxetd
		{"KEA", true},    // keyevent events as well
		{"", false},      // Redis's default: none
		{"Eg$xe", false}, // keyevent, not keyspace, channels
		{"K$", false},    // no DEL
		{"Kg", false},    // no SET
		{"Kg$", false},   // no expired keys
		{"Kg$x", false},  // no evicted keys
	}
	for _, tc := range cases {
		if got := coversKeyspaceEvents(tc.value); got != tc.want {
			t.Errorf("coversKeyspaceEvents(%q) = %v, want %v", tc.value, got, tc.want)
		}
	}
}

// coversKeyspaceEvents reports whether a notify-keyspace-events value
// includes every class KeyspaceEvents names.
func coversKeyspaceEvents(v string) bool {
	for _, c := range KeyspaceEvents {
		if strings.ContainsRune(v, c) || (c != 'K' && strings.ContainsRune(v, 'A')) {
			continue
		}
		return false
	}
	return true
}

func flagValue(args []string, flag string) (string, bool) {
	for i, a := range args {
		if a == flag && i+1 < len(args) {
			return args[i+1], true
		}
	}
	return "", false
}

func composeRedisArgs(tb testing.TB) []string {
	tb.Helper()
	raw, err := os.ReadFile("../../../docker-compose.yml")
	if err != nil {
		tb.Fatal(err)
	}
	var f struct {
		Services map[string]struct {
			Command []string `yaml:"command"`
		} `yaml:"services"`
	}
	if err := yaml.Unmarshal(raw, &f); err != nil {
		tb.Fatalf("docker-compose.yml: %v", err)
	}
	s, ok := f.Services["redis"]
	if !ok {
		tb.Fatal("docker-compose.yml: no service redis")
	}
	args := make([]string, len(s.Command))
	for i, a := range s.Command {
		args[i] = strings.ReplaceAll(a, "$$", "$") // Compose's escape
	}
	return args
}

func kubernetesRedisArgs(tb testing.TB) []string {
	tb.Helper()
	raw, err := os.ReadFile("../../../deploy/kubernetes/redis.yaml")
	if err != nil {
		tb.Fatal(err)
	}
	dec := yaml.NewDecoder(bytes.NewReader(raw))
	for {
		var doc struct {
			Kind string `yaml:"kind"`
			Spec struct {
				Template struct {
					Spec struct {
						Containers []struct {
							Name    string   `yaml:"name"`
							Command []string `yaml:"command"`
							Args    []string `yaml:"args"`
						} `yaml:"containers"`
					} `yaml:"spec"`
				} `yaml:"template"`
			} `yaml:"spec"`
		}
		if err := dec.Decode(&doc); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			tb.Fatalf("deploy/kubernetes/redis.yaml: %v", err)
		}
		for _, c := range doc.Spec.Template.Spec.Containers {
			if c.Name == "redis" {
				return append(c.Command, c.Args...)
			}
		}
	}
	tb.Fatal("deploy/kubernetes/redis.yaml: no container named redis")
	return nil
}
