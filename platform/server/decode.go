package server

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"reflect"
	"strings"
	"sync"

	"github.com/gofiber/fiber/v2"

	"github.com/finflow/finflow/platform/apperr"
)

// ErrUnsupportedMediaType is returned for a body that is declared as
// something other than JSON.
var ErrUnsupportedMediaType = apperr.New(apperr.KindInvalid, "UNSUPPORTED_MEDIA_TYPE", "send the body as JSON with Content-Type: application/json")

// DecodeJSON decodes the request body into dst (a pointer to a struct) and
// rejects, as VALIDATION_FAILED naming the field: a missing or non-object
// body, malformed JSON, trailing data, unknown or repeated fields, and values
// of the wrong type. dst's own UnmarshalJSON methods may return *apperr.Error
// for finer messages (amounts say they are integer paise).
func DecodeJSON(c *fiber.Ctx, dst any) error {
	if ct := c.Get(fiber.HeaderContentType); ct != "" && !isJSON(ct) {
		return ErrUnsupportedMediaType
	}
	return Decode(c.Body(), dst)
}

// Decode is DecodeJSON on raw bytes.
func Decode(body []byte, dst any) error {
	if len(bytes.TrimSpace(body)) == 0 {
		return apperr.Invalid("body", "request body is required (a JSON object)")
	}
	if err := checkObject(body, fieldsOf(reflect.TypeOf(dst))); err != nil {
		return err
	}
	if err := json.Unmarshal(body, dst); err != nil {
		return typeError(err)
	}
	return nil
}

// CheckJSONObject reports whether body is one well-formed JSON object with
// no duplicated top-level key and nothing after it. The gateway uses it to
// reject junk before spending a hop on it.
func CheckJSONObject(body []byte) error {
	if len(bytes.TrimSpace(body)) == 0 {
		return apperr.Invalid("body", "request body is required (a JSON object)")
	}
	return checkObject(body, nil)
}

// checkObject walks the top level of body: it must be one JSON object, each
// key once and (when allowed is not nil) each key known, followed by nothing.
func checkObject(body []byte, allowed map[string]bool) error {
	dec := json.NewDecoder(bytes.NewReader(body))
	tok, err := dec.Token()
	if err != nil {
		return syntaxError(err)
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return apperr.Invalid("body", "request body must be a JSON object")
	}
	seen := map[string]bool{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return syntaxError(err)
		}
		key, _ := tok.(string)
		if seen[key] {
			return apperr.Invalid(key, "field %q appears more than once", key)
		}
		seen[key] = true
		if allowed != nil && !allowed[key] {
			return apperr.Invalid(key, "unknown field %q", key)
		}
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			return syntaxError(err)
		}
	}
	if _, err := dec.Token(); err != nil { // the closing brace
		return syntaxError(err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return apperr.Invalid("body", "unexpected data after the JSON object")
	}
	return nil
}

func syntaxError(err error) error {
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return apperr.Invalid("body", "malformed JSON at byte %d: %v", se.Offset, se)
	}
	if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
		return apperr.Invalid("body", "malformed JSON: the body ends too early")
	}
	return apperr.Invalid("body", "malformed JSON: %v", err)
}

// typeError turns json.Unmarshal's errors into VALIDATION_FAILED.
func typeError(err error) error {
	var ae *apperr.Error
	if errors.As(err, &ae) {
		return ae
	}
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		field := te.Field
		if field == "" {
			field = "body"
		}
		return apperr.Invalid(field, "%s must be %s, not a JSON %s", field, describe(te.Type), te.Value)
	}
	return syntaxError(err)
}

func describe(t reflect.Type) string {
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "a whole number"
	case reflect.Bool:
		return "true or false"
	case reflect.Slice, reflect.Array:
		return "a list"
	case reflect.Map, reflect.Struct:
		return "an object"
	}
	return "a " + t.String()
}

var fieldCache sync.Map // reflect.Type -> map[string]bool

// fieldsOf returns the JSON names a struct type accepts.
func fieldsOf(t reflect.Type) map[string]bool {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if cached, ok := fieldCache.Load(t); ok {
		return cached.(map[string]bool)
	}
	fields := map[string]bool{}
	if t.Kind() != reflect.Struct {
		return nil
	}
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		name := f.Name
		if tag, ok := f.Tag.Lookup("json"); ok {
			n, _, _ := strings.Cut(tag, ",")
			if n == "-" {
				continue
			}
			if n != "" {
				name = n
			}
		}
		fields[name] = true
	}
	fieldCache.Store(t, fields)
	return fields
}

func isJSON(contentType string) bool {
	mt, _, err := mime.ParseMediaType(contentType)
	if err != nil {
		return false
	}
	return mt == "application/json" || strings.HasPrefix(mt, "application/") && strings.HasSuffix(mt, "+json")
}
