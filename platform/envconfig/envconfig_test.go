package envconfig_test

import (
	"strings"
	"testing"
	"time"

	"github.com/finflow/finflow/platform/envconfig"
)

func TestEnv(t *testing.T) {
	env := envconfig.FromMap(map[string]string{
		"APP_PORT": "8081", "TIMEOUT": "3s", "DEV": "true", "BAD_INT": "eighty", "EMPTY": "",
	})
	if got := env.Int("APP_PORT", 1); got != 8081 {
		t.Errorf("Int(APP_PORT) = %d, want 8081", got)
	}
	if got := env.Int("MISSING", 7); got != 7 {
		t.Errorf("Int(MISSING) = %d, want default 7", got)
	}
	if got := env.Duration("TIMEOUT", time.Second); got != 3*time.Second {
		t.Errorf("Duration(TIMEOUT) = %v, want 3s", got)
	}
	if got := env.Bool("DEV", false); !got {
		t.Errorf("Bool(DEV) = false, want true")
	}
	if got := env.String("EMPTY", "def"); got != "def" {
		t.Errorf("String(EMPTY) = %q, want default", got)
	}
	if err := env.Err(); err != nil {
		t.Fatalf("Err() = %v before any bad read, want nil", err)
	}
	env.Int("BAD_INT", 0)
	env.Required("NOT_SET")
	err := env.Err()
	if err == nil || !strings.Contains(err.Error(), "BAD_INT") || !strings.Contains(err.Error(), "NOT_SET is required") {
		t.Fatalf("Err() = %v, want both BAD_INT and NOT_SET named", err)
	}
}
