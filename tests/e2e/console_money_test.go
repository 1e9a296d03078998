package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/finflow/finflow/tests/harness"
)

// consolePage GETs the console (path: /console?...) with the admin's token
// and returns its body.
func consolePage(t *testing.T, path string) string {
	t.Helper()
	req, _ := http.NewRequest("GET", env.BaseURL+path, nil)
	req.Header.Set("Authorization", "Bearer "+env.AdminToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s = %d %.300s", path, resp.StatusCode, body)
	}
	return string(body)
}

var verdictRE = regexp.MustCompile(`id="money-verdict">([^<]*)<`)

func moneyVerdict(page string) string {
	if m := verdictRE.FindStringSubmatch(page); m != nil {
		return m[1]
	}
	return ""
}

// editWallet rewrites the wallet document of userID in the wallet's state
// store (Redis hash wallet||wallet/<user>, field data) with edit, behind
// the wallet service's back: the corruption an outside tester makes, put
// right when the test ends. The document's head is decoded in field order,
// so edit works on the text.
// redisState skips a test that corrupts a document in Redis's state store
// when the topology keeps its state in PostgreSQL (PROFILE=postgres): the
// console's check is the same code on both profiles, and the corruption is
// written where the Redis profile keeps the wallet.
func redisState(t *testing.T) {
	t.Helper()
	if env.Profile == harness.ProfilePostgres {
		t.Skip("writes a corrupt wallet document into Redis's state store; this run keeps its state in PostgreSQL")
	}
}

func editWallet(t *testing.T, userID string, edit func(doc string) string) {
	t.Helper()
	ctx := context.Background()
	key := "wallet||wallet/" + userID
	doc, err := env.Redis().HGet(ctx, key, "data").Result()
	if err != nil {
		t.Fatalf("HGET %s data: %v", key, err)
	}
	changed := edit(doc)
	if changed == doc {
		t.Fatalf("editing the wallet document of %s changed nothing:\n%s", userID, doc)
	}
	if err := env.Redis().HSet(ctx, key, "data", changed).Err(); err != nil {
		t.Fatal(err)
	}
	// Put right again, so that no later money audit of the suite trips on it.
	t.Cleanup(func() { _ = env.Redis().HSet(context.Background(), key, "data", doc).Err() })
}

var balanceRE = regexp.MustCompile(`"balance":(-?\d+)`)

// addToBalance adds n to the document's balance, and nothing else.
func addToBalance(n int64) func(string) string {
	return func(doc string) string {
		done := false
		return balanceRE.ReplaceAllStringFunc(doc, func(m string) string {
			if done { // the first is the wallet's; refusals carry one too
				return m
			}
			done = true
			b, _ := strconv.ParseInt(balanceRE.FindStringSubmatch(m)[1], 10, 64)
			return fmt.Sprintf(`"balance":%d`, b+n)
		})
	}
}

// dropNewestDebit removes the newest entry of the document (a DEBIT of
// amount), numbers the next entry as its, and sets the balance back by
// amount: the ledger adds up, and the payment it was for is paid for free.
func dropNewestDebit(t *testing.T, amount int64) func(string) string {
	return func(doc string) string {
		i := strings.Index(doc, `"entries":[`)
		if i < 0 {
			t.Fatalf("no entries in the wallet document:\n%s", doc)
		}
		start := i + len(`"entries":[`)
		dec := json.NewDecoder(strings.NewReader(doc[start:]))
		var newest struct {
			Type   string `json:"type"`
			Amount int64  `json:"amount"`
			Seq    int64  `json:"seq"`
		}
		if err := dec.Decode(&newest); err != nil || newest.Type != "DEBIT" || newest.Amount != amount {
			t.Fatalf("the newest entry is %+v (%v), want a DEBIT of %d", newest, err, amount)
		}
		end := start + int(dec.InputOffset())
		if doc[end] == ',' {
			end++
		}
		doc = doc[:start] + doc[end:]
		doc = strings.Replace(doc, fmt.Sprintf(`"next_seq":%d`, newest.Seq+1), fmt.Sprintf(`"next_seq":%d`, newest.Seq), 1)
		return addToBalance(amount)(doc)
	}
}

// payFromWallet makes a user with a wallet topped up with 100000 and a
// bill of 25000 paid from it, and returns the user and the payment.
func payFromWallet(t *testing.T, name string) (harness.User, harness.Payment) {
	t.Helper()
	u := env.MustCreateUser(t, name, fmt.Sprintf("console.%s.%d@example.in", strings.ReplaceAll(strings.ToLower(name), " ", "."), time.Now().UnixNano()))
	env.MustCreateWallet(t, u.ID)
	env.MustTopUp(t, u.ID, 100_000, "topup-"+u.ID)
	bill := env.MustCreateBill(t, u.ID, 25_000)
	r := env.Do(t, "POST", "/Payment/pay", map[string]any{"bill_id": bill.ID}, nil)
	if r.Status != http.StatusCreated {
		t.Fatalf("paying = %d %s", r.Status, r.Body)
	}
	var p harness.Payment
	r.JSON(t, &p)
	env.WaitPayment(t, p.ID, 20*time.Second, "SUCCESS", func(p harness.Payment) bool { return p.Status == "SUCCESS" })
	return u, p
}

// The console reports a violation it can see, every refresh, instead of
// "changed while it was read" or "all conserved": a balance its ledger does
// not add up to, a SUCCESS wallet payment whose debit is gone from the
// ledger (the bill paid for free).
func TestConsoleReportsACorruptWallet(t *testing.T) {
	redisState(t)
	cases := []struct {
		name string
		edit func(t *testing.T) func(string) string
		want func(p harness.Payment) string
	}{
		{"500 added to the balance alone", func(*testing.T) func(string) string { return addToBalance(500) },
			func(harness.Payment) string { return "the balance 75500 is not what the ledger adds up to (75000)" }},
		{"the debit of a SUCCESS payment removed", func(t *testing.T) func(string) string { return dropNewestDebit(t, 25_000) },
			func(p harness.Payment) string {
				return "wallet payment " + p.ID + " of 25000 is SUCCESS, but the wallet was never debited for it"
			}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			u, p := payFromWallet(t, "Console Corrupt")
			if page := consolePage(t, "/console?user="+u.ID); moneyVerdict(page) != "all conserved" {
				t.Fatalf("before the corruption the verdict is %q, want all conserved", moneyVerdict(page))
			}
			editWallet(t, u.ID, tc.edit(t))
			for refresh := range 3 {
				page := consolePage(t, "/console?user="+u.ID)
				if v := moneyVerdict(page); v != "problems found" || !strings.Contains(page, tc.want(p)) || strings.Contains(page, "changed while it was read") {
					t.Fatalf("refresh %d: verdict %q; want problems found saying %q:\n%s", refresh, v, tc.want(p), page)
				}
			}
		})
	}
}

// Valid settings do not switch the money check off: with the wallet's
// ledger pages at most 10 and the users' at most 5, the console still
// reads every page of a ledger (and of the users it lists), finds a paged
// wallet conserved, and a corrupt paged one violated.
func TestConsoleUnderLowListLimits(t *testing.T) {
	redisState(t)
	ctx := context.Background()
	ok, _ := payFromWallet(t, "Console Paged")
	bad, _ := payFromWallet(t, "Console Paged Corrupt")
	for _, u := range []harness.User{ok, bad} {
		for i := range 12 { // 14 entries: two pages of 10
			env.MustTopUp(t, u.ID, 100, fmt.Sprintf("topup-%s-%d", u.ID, i))
		}
	}
	editWallet(t, bad.ID, addToBalance(500))

	settings := map[string][2]int64{"wallet.transactions.max_limit": {10, 200}, "users.list.max_limit": {5, 200}}
	for key, v := range settings {
		if err := env.SetSetting(ctx, key, v[0]); err != nil {
			t.Fatal(err)
		}
	}
	refused := func(path string) bool { return env.Do(t, "GET", path, nil, nil).Status == http.StatusBadRequest }
	t.Cleanup(func() {
		for key, v := range settings {
			_ = env.SetSetting(ctx, key, v[1])
		}
		harness.WaitFor(t, 15*time.Second, "the list limits back", func() bool {
			return !refused("/wallet/transactions/"+ok.ID+"?limit=200") && !refused("/users/all?limit=200")
		})
	})
	harness.WaitFor(t, 15*time.Second, "the list limits at 10 and 5", func() bool {
		return refused("/wallet/transactions/"+ok.ID+"?limit=11") && refused("/users/all?limit=6")
	})

	cases := []struct {
		name, path, verdict, want string
	}{
		{"a paged wallet conserved", "/console?user=" + ok.ID, "all conserved", `<td>14</td>`},
		{"a paged wallet with 500 added to its balance", "/console?user=" + bad.ID, "problems found", "the balance 76700 is not what the ledger adds up to (76200)"},
		{"the first page of users", "/console", "", `data-money=`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			page := consolePage(t, tc.path)
			v := moneyVerdict(page)
			if tc.verdict != "" && v != tc.verdict || tc.verdict == "" && v == "not all checked" || !strings.Contains(page, tc.want) {
				t.Errorf("GET %s: verdict %q, want %q with %q", tc.path, v, tc.verdict, tc.want)
			}
			if strings.Contains(page, "answered 400") || strings.Contains(page, "changed while it was read") {
				t.Errorf("GET %s shows a read it did not make:\n%s", tc.path, page)
			}
		})
	}
}
