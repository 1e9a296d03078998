package bench

import (
	"strings"
	"testing"

	"github.com/finflow/finflow/tests/harness"
)

// The reads alternate balance and status one for one, as the floor's do,
// whichever of users and payments there are more of: FinFlow's reads were
// once 91 % status reads (400 balances among 4000 statuses) against the
// floor's half.
func TestReadTargetsAlternateOneForOne(t *testing.T) {
	for _, tc := range []struct {
		name            string
		users, payments int
		max             int
		want            int // targets
	}{
		{"more payments than users", 2, 7, 100, 14},
		{"more users than payments", 5, 2, 100, 10},
		{"payments capped by max", 3, 9, 4, 8},
		{"no payments: balances only", 3, 0, 100, 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := &Workload{Env: &harness.Env{BaseURL: "http://gw"}, token: map[string]string{}}
			for i := 0; i < tc.users; i++ {
				id := "usr_" + string(rune('a'+i))
				w.Users = append(w.Users, User{ID: id, Token: "t-" + id})
				w.token[id] = "t-" + id
			}
			owner := map[string]string{}
			for i := 0; i < tc.payments; i++ {
				p := paid{ID: "pay_" + string(rune('a'+i)), UserID: w.Users[i%tc.users].ID}
				w.payments = append(w.payments, p)
				owner[p.ID] = p.UserID
			}
			got := w.ReadTargets(tc.max)
			if len(got) != tc.want {
				t.Fatalf("%d targets, want %d", len(got), tc.want)
			}
			seen := map[string]bool{}
			if tc.payments == 0 {
				for _, tg := range got {
					if !strings.HasPrefix(tg.URL, "http://gw/wallet/balance/") {
						t.Fatalf("%s: only balances can be read without payments", tg.URL)
					}
				}
				return
			}
			for i, tg := range got {
				balance := strings.HasPrefix(tg.URL, "http://gw/wallet/balance/")
				status := strings.HasPrefix(tg.URL, "http://gw/Payment/pay_")
				if balance != (i%2 == 0) || status != (i%2 == 1) {
					t.Fatalf("target %d is %s: balances and statuses must alternate", i, tg.URL)
				}
				if status {
					id := strings.TrimPrefix(tg.URL, "http://gw/Payment/")
					if want := "Bearer t-" + owner[id]; tg.Header.Get("Authorization") != want {
						t.Fatalf("%s is read with %q, not its owner's token", tg.URL, tg.Header.Get("Authorization"))
					}
				}
				seen[tg.URL] = true
			}
			if len(seen) != tc.users+min(tc.payments, tc.max) {
				t.Errorf("%d distinct reads, want every user's balance and every payment's status (%d)", len(seen), tc.users+min(tc.payments, tc.max))
			}
		})
	}
}
