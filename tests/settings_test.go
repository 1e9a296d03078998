package tests

import (
	"os"
	"slices"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/finflow/finflow/platform/settings"
	gatewaydomain "github.com/finflow/finflow/services/gateway/domain"
	"github.com/finflow/finflow/services/gateway/webapp"
	paymentdomain "github.com/finflow/finflow/services/payment/domain"
	razorpaydomain "github.com/finflow/finflow/services/razorpay/domain"
	userdomain "github.com/finflow/finflow/services/user/domain"
	walletdomain "github.com/finflow/finflow/services/wallet/domain"
)

// The seed file that `make run` writes into the configuration store and the
// defaults in the code must say the same thing.
func TestSeededSettingsMatchTheCode(t *testing.T) {
	raw, err := os.ReadFile("../config/runtime-settings.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var seeded map[string]any
	if err := yaml.Unmarshal(raw, &seeded); err != nil {
		t.Fatalf("runtime-settings.yaml: %v", err)
	}
	declared := map[string]settings.Int{}
	for _, group := range [][]settings.Int{gatewaydomain.Settings, userdomain.Settings, walletdomain.Settings, paymentdomain.Settings} {
		for _, s := range group {
			declared[s.Key] = s
		}
	}
	for key, d := range declared {
		v, ok := seeded[key]
		if !ok {
			t.Errorf("%s is declared (default %d) but not in runtime-settings.yaml", key, d.Default)
			continue
		}
		if n, isInt := v.(int); !isInt || int64(n) != d.Default {
			t.Errorf("%s: runtime-settings.yaml says %v, the code's default is %d", key, v, d.Default)
		}
	}
	for _, d := range append(slices.Clone(razorpaydomain.TextSettings), webapp.Settings...) {
		if v, ok := seeded[d.Key]; !ok || v != d.Default {
			t.Errorf("%s: runtime-settings.yaml says %v, the code's default is %q", d.Key, v, d.Default)
		}
		declared[d.Key] = settings.Int{Key: d.Key}
	}
	for key := range seeded {
		if _, ok := declared[key]; !ok {
			t.Errorf("runtime-settings.yaml has %s, which no service declares", key)
		}
	}
}
