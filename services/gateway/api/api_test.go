package api_test

import (
	"encoding/json"
	"testing"

	"github.com/finflow/finflow/services/gateway/api"
)

// The embedded description is JSON with the OpenAPI 3 header (the
// end-to-end suites validate it fully, and every exchange against it).
func TestOpenAPIIsEmbedded(t *testing.T) {
	var doc struct {
		OpenAPI string         `json:"openapi"`
		Paths   map[string]any `json:"paths"`
	}
	if err := json.Unmarshal(api.OpenAPI, &doc); err != nil {
		t.Fatalf("openapi.json: %v", err)
	}
	if doc.OpenAPI != "3.0.3" || len(doc.Paths) < 15 {
		t.Fatalf("openapi %q with %d paths", doc.OpenAPI, len(doc.Paths))
	}
}
