package server

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"reflect"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/gofiber/fiber/v2"

	"github.com/finflow/finflow/platform/apperr"
)

// ErrUnsupportedMediaType (415) is returned for a body that is not declared
// as the contract's JSON.
var ErrUnsupportedMediaType = apperr.New(apperr.KindUnsupportedMediaType, apperr.CodeUnsupportedMedia,
	"send the body as JSON with Content-Type: application/json (charset, if given, utf-8)")

// CheckJSONMediaType accepts exactly the contract's media type for a JSON
// body: application/json, with no parameter but charset=utf-8 (letter case
// and spacing as RFC 9110 allows). Anything else, a missing Content-Type
// included, is ErrUnsupportedMediaType naming what was sent: a web page can
// send text/plain (or no type at all) without a CORS preflight, and what
// the contract does not take must not be acted on. A Content-Encoding other
// than identity is refused too: the body would not be the JSON it seems.
func CheckJSONMediaType(contentType, contentEncoding string) error {
	if ce := strings.TrimSpace(contentEncoding); ce != "" && !strings.EqualFold(ce, "identity") {
		return ErrUnsupportedMediaType.With(fmt.Sprintf("Content-Encoding %q is not accepted: send the JSON body uncompressed", apperr.Printable(ce, 100)), map[string]any{"header": "Content-Encoding"})
	}
	if strings.TrimSpace(contentType) == "" {
		return ErrUnsupportedMediaType.With("Content-Type is missing: send the body as JSON with Content-Type: application/json", map[string]any{"header": "Content-Type"})
	}
	mt, params, err := mime.ParseMediaType(contentType)
	ok := err == nil && mt == "application/json"
	for k, v := range params {
		if k != "charset" || !strings.EqualFold(v, "utf-8") {
			ok = false
		}
	}
	if !ok {
		return ErrUnsupportedMediaType.With(fmt.Sprintf("Content-Type %q is not accepted: send the body as JSON with Content-Type: application/json", apperr.Printable(contentType, 100)), map[string]any{"header": "Content-Type"})
	}
	return nil
}

// DecodeJSON checks the request's media type (CheckJSONMediaType), then
// decodes the body into dst (a pointer to a struct) and rejects, as
// VALIDATION_FAILED naming the field: a missing or non-object body,
// malformed JSON or UTF-8, a lone UTF-16 surrogate escape, trailing data,
// unknown, repeated or null fields, and values of the wrong type. dst's own UnmarshalJSON methods may return
// *apperr.Error for finer messages (amounts say they are integer paise).
func DecodeJSON(c *fiber.Ctx, dst any) error {
	if err := CheckJSONMediaType(c.Get(fiber.HeaderContentType), c.Get(fiber.HeaderContentEncoding)); err != nil {
		return err
	}
	return Decode(c.Body(), dst)
}

// Decode is DecodeJSON on raw bytes.
func Decode(body []byte, dst any) error {
	if err := checkText(body); err != nil {
		return err
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
// no duplicated or null top-level key, no lone surrogate escape and nothing
// after it. The gateway uses it to
// reject junk before spending a hop on it.
func CheckJSONObject(body []byte) error {
	if err := checkText(body); err != nil {
		return err
	}
	return checkObject(body, nil)
}

// checkText refuses an empty body and one that is not UTF-8 (which JSON
// decoders would otherwise turn silently into U+FFFD).
func checkText(body []byte) error {
	if len(bytes.TrimSpace(body)) == 0 {
		return apperr.Invalid("body", "request body is required (a JSON object)")
	}
	if !utf8.Valid(body) {
		return apperr.Invalid("body", "request body is not valid UTF-8")
	}
	return checkSurrogates(body)
}

// checkSurrogates refuses a \u escape of a UTF-16 surrogate that is not one
// half of a pair (a lone \ud800, or a low half first): it is not a
// character, and JSON decoders would turn it silently into U+FFFD, so the
// text stored would not be the text sent. Escapes appear only in strings;
// anything malformed around them is left to the JSON parser.
func checkSurrogates(body []byte) error {
	for i := 0; i < len(body); i++ {
		if body[i] != '\\' {
			continue
		}
		i++ // the escaped character: a second backslash is skipped here
		if i >= len(body) || body[i] != 'u' {
			continue
		}
		r, ok := hex4(body[i+1:])
		if !ok {
			continue
		}
		i += 4
		switch {
		case r >= 0xDC00 && r <= 0xDFFF:
			return loneSurrogate(r)
		case r >= 0xD800 && r <= 0xDBFF:
			if i+6 < len(body) && body[i+1] == '\\' && body[i+2] == 'u' {
				if lo, ok := hex4(body[i+3:]); ok && lo >= 0xDC00 && lo <= 0xDFFF {
					i += 6
					continue
				}
			}
			return loneSurrogate(r)
		}
	}
	return nil
}

func loneSurrogate(r rune) error {
	return apperr.Invalid("body", "request body escapes a lone UTF-16 surrogate (\\u%04x), which is not a character: send the text as UTF-8 or as a surrogate pair", r)
}

// hex4 reads four hex digits at the start of b.
func hex4(b []byte) (rune, bool) {
	if len(b) < 4 {
		return 0, false
	}
	var r rune
	for _, c := range b[:4] {
		switch {
		case c >= '0' && c <= '9':
			r = r<<4 | rune(c-'0')
		case c >= 'a' && c <= 'f':
			r = r<<4 | rune(c-'a'+10)
		case c >= 'A' && c <= 'F':
			r = r<<4 | rune(c-'A'+10)
		default:
			return 0, false
		}
	}
	return r, true
}

// checkObject walks the top level of body: it must be one JSON object, each
// key once, none null, and (when allowed is not nil) each key known,
// followed by nothing.
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
		// What the client named, quoted back bounded and escaped (it may
		// be any text: 6000 characters, a bidi control, a look-alike).
		shown := apperr.Printable(key, 64)
		if seen[key] {
			return apperr.Invalid(shown, "field %q appears more than once", shown)
		}
		seen[key] = true
		if allowed != nil && !allowed[key] {
			return apperr.Invalid(shown, "unknown field %q", shown)
		}
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			return syntaxError(err)
		}
		if string(skip) == "null" {
			// A pointer field would take null as "absent" (a refund's
			// amount as "all that is left"), any other as its zero value:
			// either way not what was sent. Absent is said by leaving the
			// field out.
			return apperr.Invalid(shown, "%s must not be null: leave the field out instead", shown)
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
