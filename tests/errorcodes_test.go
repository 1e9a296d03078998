package tests

import (
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// codeDecls find the error codes FinFlow declares: the codes of apperr.New
// (a literal), the Code... constants (platform/apperr, platform/contract)
// and a payment's failure reasons (Reason... constants).
var codeDecls = []*regexp.Regexp{
	regexp.MustCompile(`apperr\.New\(apperr\.Kind\w+,\s*"([A-Z][A-Z0-9_]+)"`),
	regexp.MustCompile(`(?m)^\s*(?:Code|Reason)\w*\s*=\s*"([A-Z][A-Z0-9_]+)"`),
}

// Every error code the services declare is in docs/api.md's table of
// codes, so that a client can switch on every code it can get; and the
// table names no code the code has stopped declaring.
func TestEveryErrorCodeIsDocumented(t *testing.T) {
	declared := declaredCodes(t)
	documented := documentedCodes(t)
	var missing, stale []string
	for code, where := range declared {
		if !documented[code] {
			missing = append(missing, code+" ("+where+")")
		}
	}
	for code := range documented {
		if _, ok := declared[code]; !ok {
			stale = append(stale, code)
		}
	}
	slices.Sort(missing)
	slices.Sort(stale)
	if len(missing) > 0 {
		t.Errorf("error codes missing from docs/api.md's table: %s", strings.Join(missing, ", "))
	}
	if len(stale) > 0 {
		t.Errorf("docs/api.md's table names codes nothing declares: %s", strings.Join(stale, ", "))
	}
}

// declaredCodes is every error code and failure reason the services
// declare, with the file that declares it.
func declaredCodes(t *testing.T) map[string]string {
	t.Helper()
	declared := map[string]string{} // code -> where
	for _, root := range []string{"../platform", "../services"} {
		err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
				return err
			}
			src, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			for _, re := range codeDecls {
				for _, m := range re.FindAllStringSubmatch(string(src), -1) {
					declared[m[1]] = path
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	if len(declared) < 30 {
		t.Fatalf("found %d error codes in the code; the patterns no longer match how codes are declared", len(declared))
	}
	return declared
}

// documentedCodes is every code docs/api.md's "Error codes" section names:
// its table, the codes sent between services only, and failure reasons.
func documentedCodes(t *testing.T) map[string]bool {
	t.Helper()
	doc, err := os.ReadFile("../docs/api.md")
	if err != nil {
		t.Fatal(err)
	}
	_, section, ok := strings.Cut(string(doc), "## Error codes")
	if !ok {
		t.Fatal(`docs/api.md has no "## Error codes" section`)
	}
	section, _, _ = strings.Cut(section, "\n## ")
	return backticked(section)
}

// backticked is the set of codes written `LIKE_THIS` in text.
func backticked(text string) map[string]bool {
	out := map[string]bool{}
	for _, m := range regexp.MustCompile("`([A-Z][A-Z0-9_]+)`").FindAllStringSubmatch(text, -1) {
		out[m[1]] = true
	}
	return out
}

// The customer web app says every error code a client can get, and every
// reason a payment or top-up fails, in words of its own: a code it has no
// case for would show the server's message, written for developers. The
// codes are docs/api.md's table (which TestEveryErrorCodeIsDocumented
// holds to the code) and its list of failure reasons; notForTheApp are
// the codes of routes the web app never calls.
func TestTheWebAppWordsEveryCode(t *testing.T) {
	notForTheApp := map[string]string{
		"INVALID_SIGNATURE":      "Razorpay's webhook",
		"PAYMENT_NOT_REFUNDABLE": "refunds are an admin's",
		"REFUND_EXCEEDS_PAYMENT": "refunds are an admin's",
		"REFUND_BELOW_MINIMUM":   "refunds are an admin's",
		"REFUND_LIMIT_REACHED":   "refunds are an admin's",
	}
	doc, err := os.ReadFile("../docs/api.md")
	if err != nil {
		t.Fatal(err)
	}
	_, section, _ := strings.Cut(string(doc), "## Error codes")
	section, _, _ = strings.Cut(section, "\n## ")
	table, rest, ok := strings.Cut(section, "\nSent between services only")
	_, reasons, ok2 := strings.Cut(rest, "says why in `failure_reason`")
	if !ok || !ok2 {
		t.Fatal("docs/api.md's Error codes section no longer has its table, its codes between services, and its failure reasons where this test looks")
	}
	js, err := os.ReadFile("../services/gateway/webapp/assets/app.js")
	if err != nil {
		t.Fatal(err)
	}
	cases := func(fn string) map[string]bool {
		_, body, ok := strings.Cut(string(js), "\nfunction "+fn+"(")
		body, _, _ = strings.Cut(body, "\n}\n")
		if !ok {
			t.Fatalf("app.js has no function %s", fn)
		}
		out := map[string]bool{}
		for _, m := range regexp.MustCompile(`case '([A-Z][A-Z0-9_]+)':`).FindAllStringSubmatch(body, -1) {
			out[m[1]] = true
		}
		return out
	}
	explained, worded := cases("explain"), cases("reasonWords")
	codes := backticked(table)
	if len(codes) < 20 {
		t.Fatalf("found %d codes in docs/api.md's table; the test no longer reads it right", len(codes))
	}
	for code := range codes {
		if _, skip := notForTheApp[code]; !skip && !explained[code] {
			t.Errorf("app.js's explain() has no words for %s", code)
		}
	}
	for code := range backticked(reasons) {
		if !worded[code] {
			t.Errorf("app.js's reasonWords() has no words for the failure reason %s", code)
		}
	}
}
