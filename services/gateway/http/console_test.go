package http

import (
	"testing"

	"github.com/finflow/finflow/services/gateway/domain"
)

func TestMoneyVerdict(t *testing.T) {
	ok := userMoney{Conservation: domain.Conservation{UserID: "usr_a"}}
	bad := userMoney{Conservation: domain.Conservation{UserID: "usr_b", Problems: []string{"top-ups 1 != balance 0 + kept debits 0"}}}
	unread := userMoney{Err: "wallet: unavailable"}
	noWallet := userMoney{NoWallet: true}
	cases := []struct {
		name    string
		users   []userMoney
		listErr string
		want    string
	}{
		{"no users", nil, "", "all conserved"},
		{"every user conserved", []userMoney{ok, noWallet}, "", "all conserved"},
		{"a violation wins over an unread user", []userMoney{unread, bad, ok}, "", "problems found"},
		{"an unread user", []userMoney{ok, unread}, "", "not all checked"},
		{"the user list unread", nil, "user answered 503", "not all checked"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := moneyVerdict(tc.users, tc.listErr); got != tc.want {
				t.Fatalf("verdict = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestFormatPaise(t *testing.T) {
	cases := []struct {
		paise int64
		want  string
	}{
		{0, "₹0.00"}, {5, "₹0.05"}, {25000, "₹250.00"}, {123456, "₹1234.56"}, {-150, "-₹1.50"},
	}
	for _, tc := range cases {
		if got := formatPaise(tc.paise); got != tc.want {
			t.Errorf("formatPaise(%d) = %q, want %q", tc.paise, got, tc.want)
		}
	}
}
