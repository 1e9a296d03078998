package server_test

import (
	"errors"
	"testing"

	"github.com/finflow/finflow/platform/apperr"
	"github.com/finflow/finflow/platform/money"
	"github.com/finflow/finflow/platform/server"
)

type fuzzRequest struct {
	UserID    string       `json:"user_id"`
	Amount    money.Amount `json:"amount"`
	Reference *string      `json:"reference"`
	Tags      []string     `json:"tags"`
}

// Any body either decodes or is refused as VALIDATION_FAILED naming a
// field: never a panic, never another kind of error.
func FuzzDecode(f *testing.F) {
	for _, seed := range []string{
		`{"user_id":"usr_x","amount":100}`, `{"amount":12.5}`, `{"amount":"1"}`, `{"x":1}`, `{"user_id":"a","user_id":"b"}`,
		`[]`, `null`, ``, `{`, `{"tags":["a",1]}`, `{"amount":1e400}`, "{\"user_id\":\"\xff\"}", `{} {}`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		var dst fuzzRequest
		err := server.Decode(body, &dst)
		if err == nil {
			return
		}
		var ae *apperr.Error
		if !errors.As(err, &ae) || ae.Kind != apperr.KindInvalid || ae.Details["field"] == nil {
			t.Fatalf("Decode(%q) = %v, want VALIDATION_FAILED with a field", body, err)
		}
		if status, _ := apperr.HTTP(err); status != 400 {
			t.Fatalf("Decode(%q) maps to %d, want 400", body, status)
		}
	})
}
