package topology

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/finflow/finflow/tools/launcher/runfile"
)

// ServiceCall is a GET on one app's own port that succeeds only when calls
// between the services work (Options.ServiceCall).
type ServiceCall struct {
	// App is the app whose port answers it.
	App string
	// Path is the request path, "/health".
	Path string
}

// GatewayHealth is FinFlow's service call, the gateway's GET /health: it
// answers 200 only when every service's readiness probe answered through
// Dapr service invocation (name resolution, mTLS, access policies, each
// app and its state store). It is nil for a run file without a gateway.
func GatewayHealth(rf *runfile.File) *ServiceCall {
	for _, a := range rf.Apps {
		if a.AppID == "gateway" && a.AppPort > 0 {
			return &ServiceCall{App: a.AppID, Path: "/health"}
		}
	}
	return nil
}

// waitServiceCall repeats the service call until it answers 2xx. It fails
// at once when a process ends or a known cause shows (no multicast, Redis
// down, a port taken), and after CallTimeout otherwise, in one line that
// says what the call answered and, where it can tell, why.
func (t *Topology) waitServiceCall(ctx context.Context) error {
	sc := t.opts.ServiceCall
	if sc == nil {
		return nil
	}
	a := t.byID[sc.App]
	if a == nil || a.AppPort <= 0 {
		return fmt.Errorf("the service call goes to app %q, which the run file does not have with a port", sc.App)
	}
	url := "http://" + a.Reach(a.AppPort) + sc.Path
	what := fmt.Sprintf("GET %s on %s", sc.Path, sc.App)
	deadline := time.Now().Add(t.opts.CallTimeout)
	client := &http.Client{Timeout: 10 * time.Second}
	lastReport := time.Now()
	for {
		answer, ok := call(ctx, client, url)
		if ok {
			return nil
		}
		for _, p := range t.procs() {
			if !p.running() {
				return t.exitError(ctx, p)
			}
		}
		// Only causes that do not go away by themselves end the wait early;
		// what the call answered (an mDNS lookup without an answer yet) may.
		if cause := t.diagnose(ctx, ""); cause != "" {
			return fmt.Errorf("calls between services fail (%s: %s): %s", what, answer, cause)
		}
		if time.Since(lastReport) > 10*time.Second {
			lastReport = time.Now()
			t.console.say("waiting for calls between services to work (%s: %s)", what, answer)
		}
		if time.Now().After(deadline) {
			// The call may have given up before a sidecar did: ask one
			// directly, with time to spare, what goes wrong.
			probe := t.invocationProbe(ctx)
			cause := t.diagnose(ctx, answer+" "+probe)
			switch {
			case cause == "":
				cause = "see the sidecars' logs"
			case probe != "" && causeInAnswers(answer) == "":
				cause += " (" + probe + ")"
			}
			return fmt.Errorf("calls between services still fail after %s (%s: %s): %s", t.opts.CallTimeout, what, answer, cause)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("stopped while waiting for calls between services to work (%s: %s)", what, answer)
		case <-time.After(500 * time.Millisecond):
		}
	}
}

// invocationProbe has one sidecar (the service call's app's) invoke another
// app's health path directly, with more time than a service gives its
// calls, and returns what came back when name resolution or the way to the
// other sidecar failed; "" when it worked or was refused by the callee
// (access policies: then the way there works).
func (t *Topology) invocationProbe(ctx context.Context) string {
	if len(t.apps) < 2 {
		return ""
	}
	from := t.apps[0]
	if sc := t.opts.ServiceCall; sc != nil && t.byID[sc.App] != nil {
		from = t.byID[sc.App]
	}
	to := t.apps[0]
	for _, a := range t.apps {
		if a.AppID != from.AppID {
			to = a
			break
		}
	}
	if to.AppID == from.AppID {
		return ""
	}
	path := to.AppHealthCheckPath
	if path == "" {
		path = "/healthz"
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet,
		fmt.Sprintf("http://%s/v1.0/invoke/%s/method%s", from.Reach(from.DaprHTTPPort), to.AppID, path), nil)
	if err != nil {
		return ""
	}
	if from.APIToken != "" {
		req.Header.Set("dapr-api-token", from.APIToken)
	}
	resp, err := (&http.Client{Timeout: 15 * time.Second}).Do(req)
	if err != nil {
		return fmt.Sprintf("%s's sidecar invoking %s: %v", from.AppID, to.AppID, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<10))
	if resp.StatusCode/100 == 2 || resp.StatusCode == http.StatusForbidden {
		return ""
	}
	return fmt.Sprintf("%s's sidecar invoking %s: %d %s", from.AppID, to.AppID, resp.StatusCode, oneLine(string(body), 200))
}

// call makes one GET and says in a few words what came back.
func call(ctx context.Context, c *http.Client, url string) (string, bool) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err.Error(), false
	}
	resp, err := c.Do(req)
	if err != nil {
		return err.Error(), false
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode/100 == 2 {
		return "", true
	}
	return fmt.Sprintf("%d, %s", resp.StatusCode, summarize(body)), false
}

// summarize shortens a failed answer: FinFlow's /health body
// ({"services":{"user":"unavailable"}}) becomes the failing services, with
// the first one's reason when the body gives one (an older gateway's
// "unavailable: ..."; today's keeps reasons for its log, and the launcher's
// own probe finds them); anything else its first 200 bytes.
func summarize(body []byte) string {
	var health struct {
		Services map[string]string `json:"services"`
	}
	if json.Unmarshal(body, &health) == nil && len(health.Services) > 0 {
		var failing []string
		for name, state := range health.Services {
			if state != "ok" {
				failing = append(failing, name)
			}
		}
		slices.Sort(failing)
		if len(failing) > 0 {
			reason, given := strings.CutPrefix(health.Services[failing[0]], "unavailable: ")
			if !given {
				return strings.Join(failing, ", ") + " not answering"
			}
			if i := strings.LastIndex(reason, "err: "); i >= 0 {
				reason = reason[i+len("err: "):]
			}
			return fmt.Sprintf("%s not answering, e.g. %s", strings.Join(failing, ", "), oneLine(reason, 200))
		}
	}
	return oneLine(string(body), 200)
}

// oneLine folds s into one line of at most n bytes.
func oneLine(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > n {
		s = s[:n] + "..."
	}
	return s
}
