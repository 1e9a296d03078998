package domain

import (
	"fmt"
	"testing"
)

// The contract's literal paths that a route of another method would take
// as an id: each is answered 405 with its own methods, never as a lookup
// of an id such as "create".
func TestShadows(t *testing.T) {
	got := map[string]string{}
	for _, s := range Shadows(Routes) {
		got[s.Method+" "+s.Path] = fmt.Sprint(s.Allow)
	}
	want := map[string]string{
		"GET /users/create":          "[POST]",
		"GET /billing/create":        "[POST]",
		"GET /billing/subscriptions": "[POST]",
		"GET /Payment/pay":           "[POST]",
		"GET /Payment/rozarpay":      "[POST]",
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s: Allow %q, want %q", k, got[k], v)
		}
	}
	for k := range got {
		if _, ok := want[k]; !ok {
			t.Errorf("unexpected shadow %s (Allow %s)", k, got[k])
		}
	}
}
