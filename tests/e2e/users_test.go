package e2e

import (
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/finflow/finflow/platform/id"
	"github.com/finflow/finflow/tests/harness"
)

// uniqueEmail returns an email no other test uses.
func uniqueEmail(tag string) string {
	return fmt.Sprintf("%s.%s@example.in", tag, strings.TrimPrefix(id.New("t"), "t_"))
}

func TestCreateAndGetUser(t *testing.T) {
	t.Parallel()
	email := uniqueEmail("Asha.Rao")
	resp := env.Do(t, "POST", "/users/create", map[string]any{"name": "  Asha Rao ", "email": email, "phone": "+91 98765-43210"}, nil)
	if resp.Status != http.StatusCreated {
		t.Fatalf("POST /users/create = %d %s, want 201", resp.Status, resp.Body)
	}
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Errorf("Content-Type = %q, want application/json", ct)
	}
	var u harness.User
	resp.JSON(t, &u)
	if !id.Valid(id.User, u.ID) || u.Name != "Asha Rao" || u.Email != email || u.Phone == nil || *u.Phone != "+919876543210" {
		t.Fatalf("created user = %+v", u)
	}
	created, err := time.Parse(time.RFC3339Nano, u.CreatedAt)
	if err != nil || !strings.HasSuffix(u.CreatedAt, "Z") || time.Since(created) > time.Minute {
		t.Fatalf("created_at = %q (%v), want a recent RFC 3339 UTC time", u.CreatedAt, err)
	}

	got := env.Do(t, "GET", "/users/"+u.ID, nil, nil)
	if got.Status != http.StatusOK {
		t.Fatalf("GET /users/%s = %d %s, want 200", u.ID, got.Status, got.Body)
	}
	var again harness.User
	got.JSON(t, &again)
	if again.ID != u.ID || again.Email != u.Email || again.CreatedAt != u.CreatedAt || *again.Phone != *u.Phone {
		t.Fatalf("GET = %+v, want %+v", again, u)
	}

	noPhone := env.MustCreateUser(t, "No Phone", uniqueEmail("nophone"))
	raw := env.Do(t, "GET", "/users/"+noPhone.ID, nil, nil)
	if !strings.Contains(string(raw.Body), `"phone":null`) {
		t.Fatalf("user without phone = %s, want \"phone\":null", raw.Body)
	}
}

func TestGetUnknownUser(t *testing.T) {
	t.Parallel()
	for _, path := range []string{
		"/users/" + id.New(id.User), // well formed, never created
		"/users/usr_not-a-real-id",  // malformed
		"/users/" + id.New(id.Bill), // another type's id
	} {
		resp := env.Do(t, "GET", path, nil, nil)
		if resp.Status != http.StatusNotFound || resp.ErrorCode() != "USER_NOT_FOUND" {
			t.Errorf("GET %s = %d %s, want 404 USER_NOT_FOUND", path, resp.Status, resp.Body)
		}
	}
}

func TestEmailIsUniqueIgnoringCase(t *testing.T) {
	t.Parallel()
	email := uniqueEmail("Case")
	env.MustCreateUser(t, "First", email)
	for _, variant := range []string{email, strings.ToUpper(email), " " + strings.ToLower(email) + " "} {
		resp := env.Do(t, "POST", "/users/create", map[string]any{"name": "Second", "email": variant}, nil)
		if resp.Status != http.StatusConflict || resp.ErrorCode() != "EMAIL_TAKEN" {
			t.Errorf("sign-up with %q = %d %s, want 409 EMAIL_TAKEN", variant, resp.Status, resp.Body)
		}
	}
}

// Twenty sign-ups with one email (in different letter cases) at once:
// exactly one wins, the rest get EMAIL_TAKEN, and the list holds the
// winner once.
func TestEqualEmailSignUpsRace(t *testing.T) {
	t.Parallel()
	base := uniqueEmail("race")
	const n = 20
	var wg sync.WaitGroup
	statuses := make([]int, n)
	codes := make([]string, n)
	ids := make([]string, n)
	start := make(chan struct{})
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			email := base
			if i%2 == 1 {
				email = strings.ToUpper(base)
			}
			<-start
			resp := env.Do(t, "POST", "/users/create", map[string]any{"name": fmt.Sprintf("Racer %d", i), "email": email}, nil)
			statuses[i], codes[i] = resp.Status, resp.ErrorCode()
			if resp.Status == http.StatusCreated {
				var u harness.User
				resp.JSON(t, &u)
				ids[i] = u.ID
			}
		}(i)
	}
	close(start)
	wg.Wait()
	var winner string
	for i := 0; i < n; i++ {
		switch {
		case statuses[i] == http.StatusCreated:
			if winner != "" {
				t.Fatalf("two sign-ups won: %s and %s", winner, ids[i])
			}
			winner = ids[i]
		case statuses[i] == http.StatusConflict && codes[i] == "EMAIL_TAKEN":
		default:
			t.Fatalf("sign-up %d = %d %s, want 201 or 409 EMAIL_TAKEN", i, statuses[i], codes[i])
		}
	}
	if winner == "" {
		t.Fatalf("no sign-up won")
	}
	if seen := countListed(t, winner); seen != 1 {
		t.Fatalf("winner %s listed %d times, want once", winner, seen)
	}
}

type listPage struct {
	Items      []harness.User `json:"items"`
	NextCursor *string        `json:"next_cursor"`
}

// listAll pages through GET /users/all with the given page size.
func listAll(t *testing.T, limit int) []harness.User {
	t.Helper()
	var all []harness.User
	cursor := ""
	for pages := 0; ; pages++ {
		if pages > 10000 {
			t.Fatalf("pagination does not end")
		}
		path := fmt.Sprintf("/users/all?limit=%d", limit)
		if cursor != "" {
			path += "&cursor=" + cursor
		}
		resp := env.Do(t, "GET", path, nil, nil)
		if resp.Status != http.StatusOK {
			t.Fatalf("GET %s = %d %s", path, resp.Status, resp.Body)
		}
		var p listPage
		resp.JSON(t, &p)
		if len(p.Items) > limit {
			t.Fatalf("page of %d items, limit %d", len(p.Items), limit)
		}
		all = append(all, p.Items...)
		if p.NextCursor == nil {
			return all
		}
		cursor = *p.NextCursor
	}
}

func countListed(t *testing.T, userID string) int {
	n := 0
	for _, u := range listAll(t, 100) {
		if u.ID == userID {
			n++
		}
	}
	return n
}

func TestListUsersPaginatesOldestFirst(t *testing.T) {
	t.Parallel()
	var mine []string
	for i := 0; i < 7; i++ {
		mine = append(mine, env.MustCreateUser(t, fmt.Sprintf("Lister %d", i), uniqueEmail(fmt.Sprintf("list%d", i))).ID)
	}
	all := listAll(t, 3)
	pos := map[string]int{}
	for i, u := range all {
		if _, dup := pos[u.ID]; dup {
			t.Fatalf("user %s listed twice", u.ID)
		}
		pos[u.ID] = i
	}
	last := -1
	for _, id := range mine {
		p, ok := pos[id]
		if !ok {
			t.Fatalf("user %s not listed", id)
		}
		if p < last {
			t.Fatalf("user %s listed before an older one: not oldest first", id)
		}
		last = p
	}
}

func TestListUsersRejectsBadParameters(t *testing.T) {
	t.Parallel()
	cases := []struct{ query, field string }{
		{"limit=0", "limit"},
		{"limit=-1", "limit"},
		{"limit=abc", "limit"},
		{"limit=1.5", "limit"},
		{"limit=100000", "limit"},
		{"cursor=not-a-cursor", "cursor"},
		{"cursor=dTE6MA", "cursor"}, // a well-encoded cursor with position 0
	}
	for _, tc := range cases {
		resp := env.Do(t, "GET", "/users/all?"+tc.query, nil, nil)
		if resp.Status != http.StatusBadRequest || resp.ErrorCode() != "VALIDATION_FAILED" || resp.ErrorField() != tc.field {
			t.Errorf("GET /users/all?%s = %d %s, want 400 VALIDATION_FAILED on %s", tc.query, resp.Status, resp.Body, tc.field)
		}
	}
}

// Every bad sign-up the contract names gets its error and creates nothing.
func TestCreateUserRejectsBadInput(t *testing.T) {
	t.Parallel()
	email := uniqueEmail("bad")
	json := map[string]string{"Content-Type": "application/json"}
	cases := []struct {
		name       string
		body       any
		header     map[string]string
		wantStatus int
		wantCode   string
		wantField  string
	}{
		{"missing name", map[string]any{"email": email}, nil, 400, "VALIDATION_FAILED", "name"},
		{"blank name", map[string]any{"name": "   ", "email": email}, nil, 400, "VALIDATION_FAILED", "name"},
		{"missing email", map[string]any{"name": "A"}, nil, 400, "VALIDATION_FAILED", "email"},
		{"bad email", map[string]any{"name": "A", "email": "not-an-email"}, nil, 400, "VALIDATION_FAILED", "email"},
		{"bad phone", map[string]any{"name": "A", "email": email, "phone": "call me"}, nil, 400, "VALIDATION_FAILED", "phone"},
		{"unknown field", map[string]any{"name": "A", "email": email, "role": "admin"}, nil, 400, "VALIDATION_FAILED", "role"},
		{"wrong type", map[string]any{"name": 42, "email": email}, nil, 400, "VALIDATION_FAILED", "name"},
		{"duplicate key", `{"name":"A","email":"` + email + `","email":"x@y.in"}`, json, 400, "VALIDATION_FAILED", "email"},
		{"malformed JSON", `{"name":"A",`, json, 400, "VALIDATION_FAILED", "body"},
		{"trailing garbage", `{"name":"A","email":"` + email + `"} trailing`, json, 400, "VALIDATION_FAILED", "body"},
		{"not an object", `["A"]`, json, 400, "VALIDATION_FAILED", "body"},
		{"empty body", ``, json, 400, "VALIDATION_FAILED", "body"},
		{"form encoded", "name=A&email=" + email, map[string]string{"Content-Type": "application/x-www-form-urlencoded"}, 415, "UNSUPPORTED_MEDIA_TYPE", ""},
		{"body over 64 KiB", `{"name":"` + strings.Repeat("a", 70<<10) + `","email":"` + email + `"}`, json, 413, "BODY_TOO_LARGE", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			resp := env.Do(t, "POST", "/users/create", tc.body, tc.header)
			if resp.Status != tc.wantStatus || resp.ErrorCode() != tc.wantCode {
				t.Fatalf("= %d %.300s, want %d %s", resp.Status, resp.Body, tc.wantStatus, tc.wantCode)
			}
			if tc.wantField != "" && resp.ErrorField() != tc.wantField {
				t.Fatalf("details.field = %q, want %q (%s)", resp.ErrorField(), tc.wantField, resp.Body)
			}
			if resp.Header.Get("X-Request-Id") == "" {
				t.Fatalf("error response without X-Request-Id")
			}
		})
	}
	// None of them created the user: the email is still free.
	env.MustCreateUser(t, "Finally Valid", email)
}
