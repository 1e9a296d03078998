// Package domain holds FinFlow's user model and its rules: what a valid
// user is, and when two emails are the same.
package domain

import (
	"context"
	"net/mail"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/finflow/finflow/platform/apperr"
	"github.com/finflow/finflow/platform/contract"
	"github.com/finflow/finflow/platform/id"
	"github.com/finflow/finflow/platform/page"
	"github.com/finflow/finflow/platform/text"
)

// User is a FinFlow customer.
type User struct {
	ID    string
	Name  string
	Email string
	// Phone is the normalised phone number, or "" when none was given.
	Phone     string
	CreatedAt time.Time
}

// Errors returned by the user service.
var (
	ErrUserNotFound  = contract.ErrUserNotFound
	ErrEmailTaken    = apperr.New(apperr.KindConflict, "EMAIL_TAKEN", "a user with this email already exists")
	ErrInvalidCursor = page.ErrInvalidCursor // not a cursor, or a position not within the list
)

// Limits on user fields.
const (
	MaxNameLen  = 100 // characters
	MaxEmailLen = 254 // bytes (RFC 5321)
)

// NewUser validates a sign-up and returns the user to store, with a fresh id
// and creation time.
func NewUser(name, email, phone string, now time.Time) (User, error) {
	name = strings.TrimSpace(name)
	email = strings.TrimSpace(email)
	if err := validateName(name); err != nil {
		return User{}, err
	}
	if err := validateEmail(email); err != nil {
		return User{}, err
	}
	phone, err := normalizePhone(phone)
	if err != nil {
		return User{}, err
	}
	return User{
		ID:        id.New(id.User),
		Name:      name,
		Email:     email,
		Phone:     phone,
		CreatedAt: now.UTC().Truncate(time.Millisecond),
	}, nil
}

// EmailKey returns the form under which an email is unique: two emails that
// differ only in letter case (or surrounding spaces) are the same user.
func EmailKey(email string) string {
	return strings.ToLower(strings.TrimSpace(email))
}

func validateName(name string) error {
	if name == "" {
		return apperr.Invalid("name", "name is required")
	}
	if !utf8.ValidString(name) {
		return apperr.Invalid("name", "name must be valid UTF-8")
	}
	if n := utf8.RuneCountInString(name); n > MaxNameLen {
		return apperr.Invalid("name", "name is %d characters long; at most %d are allowed", n, MaxNameLen)
	}
	if problem := text.Problem(name); problem != "" {
		return apperr.Invalid("name", "name %s", problem)
	}
	return nil
}

func validateEmail(email string) error {
	if email == "" {
		return apperr.Invalid("email", "email is required")
	}
	if len(email) > MaxEmailLen {
		return apperr.Invalid("email", "email is longer than %d characters", MaxEmailLen)
	}
	addr, err := mail.ParseAddress(email)
	// A bare address only: no display name, no comments, no angle brackets.
	if err != nil || addr.Address != email || addr.Name != "" || text.Problem(email) != "" {
		return apperr.Invalid("email", "email %q is not a valid address like name@example.com", email)
	}
	local, domain, _ := strings.Cut(email, "@")
	if len(local) > 64 || !strings.Contains(domain, ".") || strings.HasPrefix(domain, ".") || strings.HasSuffix(domain, ".") ||
		strings.ContainsAny(email, " \"\\") {
		return apperr.Invalid("email", "email %q is not a valid address like name@example.com", email)
	}
	return nil
}

// normalizePhone accepts an optional phone number with spaces, dashes,
// dots or brackets between digits and an optional leading +, and returns it
// as + and digits (or digits alone), 7 to 15 digits (E.164).
func normalizePhone(phone string) (string, error) {
	phone = strings.TrimSpace(phone)
	if phone == "" {
		return "", nil
	}
	var b strings.Builder
	digits := 0
	for i, r := range phone {
		switch {
		case r >= '0' && r <= '9':
			b.WriteRune(r)
			digits++
		case r == '+' && i == 0:
			b.WriteRune(r)
		case r == ' ' || r == '-' || r == '.' || r == '(' || r == ')':
		default:
			return "", apperr.Invalid("phone", "phone may contain only digits, spaces, dashes, brackets and a leading +")
		}
	}
	if digits < 7 || digits > 15 {
		return "", apperr.Invalid("phone", "phone must have 7 to 15 digits, not %d", digits)
	}
	return b.String(), nil
}

// Page is one page of the user list, oldest first. Next is the cursor of
// the following page, or "" on the last page.
type Page struct {
	Users []User
	Next  string
}

// Store keeps users. Implementations must keep emails unique by EmailKey
// even when sign-ups race.
type Store interface {
	// Create stores u and returns the stored user: u, or, when a user with
	// u's id already exists (a retried sign-up), that user. Returns
	// ErrEmailTaken if another user has the same email (by EmailKey).
	Create(ctx context.Context, u User) (User, error)
	// Get returns the user with the given id. Returns ErrUserNotFound.
	Get(ctx context.Context, id string) (User, error)
	// List returns up to limit users created after the position cursor
	// points at ("" for the start), oldest first. Returns ErrInvalidCursor
	// for a cursor not issued for the list: another list's, or one whose
	// position is not within the list as it is (past its last position).
	List(ctx context.Context, cursor string, limit int) (Page, error)
}
