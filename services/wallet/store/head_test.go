package store

import (
	"encoding/json"
	"strconv"
	"testing"
	"time"
)

// walletWithEntries is a wallet document as Apply writes it, with n entries.
func walletWithEntries(n int) walletDoc {
	at := time.Date(2026, 12, 1, 10, 0, 0, 123456789, time.UTC)
	d := walletDoc{UserID: "usr_0123456789abcdefghijklmn", Currency: "INR", Balance: 123_456_789, CreatedAt: at, NextSeq: int64(n + 1), Entries: []entry{}}
	for i := n; i >= 1; i-- {
		d.Entries = append(d.Entries, entry{ID: "txn_" + strconv.Itoa(i), Seq: int64(i), Type: "DEBIT", Amount: 1000,
			BalanceAfter: 5000, Reference: "payment:pay_0123456789abcdefghijklmn", CreatedAt: at.Add(time.Duration(i) * time.Second)})
	}
	return d
}

// decodeHead answers what json.Unmarshal into walletHead answers, for the
// documents Apply writes and for any other order or set of fields, as long
// as "unopened", when present, comes before the head (walletDoc encodes it
// first).
func TestDecodeHeadAgreesWithUnmarshal(t *testing.T) {
	doc := func(d walletDoc) string {
		raw, err := json.Marshal(d)
		if err != nil {
			t.Fatal(err)
		}
		return string(raw)
	}
	for _, tc := range []struct {
		name, raw string
		wantErr   bool
	}{
		{"new wallet", doc(walletWithEntries(0)), false},
		{"unopened (refusals only)", doc(walletDoc{Unopened: true, UserID: "usr_x", NextSeq: 1, Entries: []entry{},
			Refused: []refusal{{Reference: "pay_a", Amount: 5, NoWallet: true}}}), false},
		{"unopened first, then any order", `{"unopened":true,"balance":0,"refused":[],"user_id":"usr_x","currency":"","created_at":"0001-01-01T00:00:00Z"}`, false},
		{"unopened false", `{"unopened":false,"user_id":"usr_x","currency":"INR","balance":3,"created_at":"2026-12-01T10:00:00Z"}`, false},
		{"unopened not a bool", `{"unopened":1,"user_id":"usr_x"}`, true},
		{"49 entries", doc(walletWithEntries(49)), false},
		{"entries first", `{"entries":[{"id":"txn_1","seq":1}],"pages":2,"balance":7,"user_id":"usr_x","currency":"INR","created_at":"2026-12-01T10:00:00Z"}`, false},
		{"unknown fields between", `{"user_id":"usr_x","v":{"a":[1,2]},"currency":"INR","w":null,"balance":-5,"created_at":"2026-12-01T10:00:00Z","entries":[]}`, false},
		{"a field missing", `{"user_id":"usr_x","balance":9,"entries":[]}`, false},
		{"empty object", `{}`, false},
		{"not an object", `[1,2]`, true},
		{"balance not a number", `{"user_id":"usr_x","balance":"9"}`, true},
		{"balance not an integer", `{"user_id":"usr_x","balance":9.5}`, true},
		{"broken head", `{"user_id":"usr_x","balance":`, true},
		{"empty", ``, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var want walletHead
			wantErr := json.Unmarshal([]byte(tc.raw), &want)
			got, err := decodeHead([]byte(tc.raw))
			if (err != nil) != tc.wantErr || (wantErr != nil) != tc.wantErr {
				t.Fatalf("decodeHead error %v, json.Unmarshal error %v; want an error: %v", err, wantErr, tc.wantErr)
			}
			if err == nil && (got != want || !got.CreatedAt.Equal(want.CreatedAt)) {
				t.Fatalf("decodeHead = %+v, json.Unmarshal = %+v", got, want)
			}
		})
	}
}

// What a balance read's decode costs on a full document:
// `go test -run '^$' -bench Head ./store/`.
func BenchmarkDecodeHead(b *testing.B) {
	raw, _ := json.Marshal(walletWithEntries(37)) // the middle of 25 to 49, as documents of the earlier rule held
	b.Run("json.Unmarshal", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			var h walletHead
			if err := json.Unmarshal(raw, &h); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("decodeHead", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			if _, err := decodeHead(raw); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// What a debit's decode and encode of the document cost with the 13
// entries a document holds on average now (1 to 25) and the 37 of the
// earlier rule (25 to 49): `go test -run '^$' -bench DebitJSON ./store/`.
func BenchmarkDebitJSON(b *testing.B) {
	for _, n := range []int{13, 37} {
		raw, _ := json.Marshal(walletWithEntries(n))
		b.Run(strconv.Itoa(n)+" entries, "+strconv.Itoa(len(raw))+" bytes", func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				var d walletDoc
				if err := json.Unmarshal(raw, &d); err != nil {
					b.Fatal(err)
				}
				d.Entries = append([]entry{d.Entries[0]}, d.Entries...)
				if _, err := json.Marshal(d); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
