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
	doc, err := os.ReadFile("../docs/api.md")
	if err != nil {
		t.Fatal(err)
	}
	_, section, ok := strings.Cut(string(doc), "## Error codes")
	if !ok {
		t.Fatal(`docs/api.md has no "## Error codes" section`)
	}
	section, _, _ = strings.Cut(section, "\n## ")
	documented := map[string]bool{}
	for _, m := range regexp.MustCompile("`([A-Z][A-Z0-9_]+)`").FindAllStringSubmatch(section, -1) {
		documented[m[1]] = true
	}
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
