package harness

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strings"
	"sync"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/legacy"
)

// contract checks the requests a suite makes and the answers it gets
// against the OpenAPI description the gateway serves (GET /openapi.json),
// so that the description cannot drift from the code.
type contract struct {
	Doc    *openapi3.T
	router routers.Router

	mu         sync.Mutex
	violations map[string]int // violation -> times seen
	checked    int
}

// loadContract fetches the gateway's description, checks that it is valid
// OpenAPI 3, and prepares a router for it at baseURL.
func loadContract(baseURL string) (*contract, error) {
	resp, err := http.Get(baseURL + "/openapi.json")
	if err != nil {
		return nil, fmt.Errorf("GET /openapi.json: %w", err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET /openapi.json = %d %.200s (%v)", resp.StatusCode, raw, err)
	}
	doc, err := openapi3.NewLoader().LoadFromData(raw)
	if err != nil {
		return nil, fmt.Errorf("/openapi.json is not OpenAPI: %w", err)
	}
	if err := doc.Validate(context.Background()); err != nil {
		return nil, fmt.Errorf("/openapi.json is not valid OpenAPI 3: %w", err)
	}
	// Route against the suite's own gateway address.
	doc.Servers = openapi3.Servers{{URL: baseURL}}
	router, err := legacy.NewRouter(doc)
	if err != nil {
		return nil, fmt.Errorf("routing /openapi.json: %w", err)
	}
	return &contract{Doc: doc, router: router, violations: map[string]int{}}, nil
}

// check validates one exchange. A request the description refuses must be
// refused by the gateway too (4xx); a request it accepts must not be
// refused as malformed (400 VALIDATION_FAILED); every answer must be one
// the description lists for the operation, with a body of its schema.
func (c *contract) check(method, url string, header http.Header, body []byte, resp *Response) {
	req, err := http.NewRequest(method, url, bytes.NewReader(body))
	if err != nil {
		return
	}
	req.Header = header.Clone()
	route, params, err := c.router.FindRoute(req)
	if err != nil {
		// A path the description does not have must be one the gateway
		// does not have either.
		if resp.Status != http.StatusNotFound && resp.Status != http.StatusMethodNotAllowed {
			c.add(fmt.Sprintf("%s %s is not in /openapi.json but was answered %d", method, req.URL.Path, resp.Status))
		}
		return
	}
	op := method + " " + route.Path
	opts := &openapi3filter.Options{AuthenticationFunc: openapi3filter.NoopAuthenticationFunc, IncludeResponseStatus: true, MultiError: true}
	in := &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: route, Options: opts}
	reqErr := openapi3filter.ValidateRequest(context.Background(), in)
	switch {
	case reqErr != nil && resp.Status < 400:
		c.add(fmt.Sprintf("%s: the description refuses a request the gateway answered %d: %s", op, resp.Status, firstLine(reqErr)))
	case reqErr == nil && resp.Status == http.StatusBadRequest && resp.ErrorCode() == "VALIDATION_FAILED" &&
		!strings.HasPrefix(route.Path, "/razorpay/") && !beyondSchema(resp.Body):
		c.add(fmt.Sprintf("%s: the description accepts a request the gateway refused as malformed: %.200s", op, resp.Body))
	}
	// Validate the answer against the operation, whatever the request was.
	req.Body = io.NopCloser(bytes.NewReader(body))
	out := &openapi3filter.ResponseValidationInput{RequestValidationInput: in, Status: resp.Status, Header: resp.Header,
		Body: io.NopCloser(bytes.NewReader(resp.Body)), Options: opts}
	if err := openapi3filter.ValidateResponse(context.Background(), out); err != nil {
		c.add(fmt.Sprintf("%s answered %d: %s", op, resp.Status, firstLine(err)))
	}
	c.mu.Lock()
	c.checked++
	c.mu.Unlock()
}

// beyondSchema reports a refusal that no JSON Schema can state, so the
// description may accept the request: JSON syntax the decoder refuses
// (repeated fields, trailing data, an amount written 100.0 or 1e3),
// cursors the server did not issue, and page limits above a maximum that
// is a runtime setting.
func beyondSchema(body []byte) bool {
	for _, s := range []string{"appears more than once", "unexpected data after the JSON", "integer number of paise",
		"cursor is not one this server issued", "limit must be a whole number", "lone UTF-16 surrogate",
		"must be an RFC 3339 time", "this route takes no body", "kept to the millisecond", "in FinFlow's own namespace"} {
		if bytes.Contains(body, []byte(s)) {
			return true
		}
	}
	return false
}

func (c *contract) add(v string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.violations[v]++
}

func firstLine(err error) string {
	s := err.Error()
	if i := strings.IndexByte(s, '\n'); i > 0 {
		s = s[:i]
	}
	return s
}

// ContractViolations returns every disagreement between the exchanges of
// the run and /openapi.json (nil when the suite does not check it), and how
// many exchanges were checked.
func (e *Env) ContractViolations() ([]string, int) {
	if e.contract == nil {
		return nil, 0
	}
	c := e.contract
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]string, 0, len(c.violations))
	for v, n := range c.violations {
		out = append(out, fmt.Sprintf("%s (x%d)", v, n))
	}
	sort.Strings(out)
	return out, c.checked
}

// OpenAPI returns the description the run checks against (nil when the
// suite does not check it).
func (e *Env) OpenAPI() *openapi3.T {
	if e.contract == nil {
		return nil
	}
	return e.contract.Doc
}
