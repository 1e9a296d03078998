package http

import (
	"embed"
	"fmt"
	"html/template"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/finflow/finflow/platform/sidecar"
	"github.com/finflow/finflow/services/gateway/console/domain"
)

//go:embed console.html
var pageFS embed.FS

var pageTmpl = template.Must(template.New("console.html").Funcs(template.FuncMap{
	"rupees": formatPaise,
	"when":   func(t time.Time) string { return t.UTC().Format("2006-01-02 15:04:05") },
}).ParseFS(pageFS, "console.html"))

// formatPaise writes paise as rupees with two decimals, in integers.
func formatPaise(p int64) string {
	sign := ""
	if p < 0 {
		sign, p = "-", -p
	}
	return fmt.Sprintf("%s₹%d.%02d", sign, p/100, p%100)
}

// view is what the page shows.
type view struct {
	Admin       string
	Generated   time.Time
	Login       bool
	LoginError  string
	Services    []serviceView
	Payments    []opsPayment
	PaymentsErr string
	Deliveries  []webhookDelivery
	DeliveryErr string
	// DeadLetters lists the open dead letters first, OpenDeadLetters of
	// them.
	DeadLetters     []deadLetter
	OpenDeadLetters int
	DeadErr         string
	Users           []domain.UserMoney
	UsersErr        string
	NextUsers       string
	// MoneyVerdict sums the money check up (domain.MoneyVerdict).
	MoneyVerdict string
}

type serviceView struct {
	Name       string
	Ready      bool
	Health     string
	Sidecar    *sidecar.Metadata
	SidecarErr string
}

// opsPayment is a payment as the payment service's GET /ops/payments
// lists it.
type opsPayment struct {
	ID            string  `json:"id"`
	BillID        string  `json:"bill_id"`
	UserID        *string `json:"user_id"`
	Amount        *int64  `json:"amount"`
	Method        string  `json:"method"`
	Status        string  `json:"status"`
	FailureReason *string `json:"failure_reason"`
	CreatedAt     string  `json:"created_at"`
	History       []struct {
		At   time.Time `json:"at"`
		What string    `json:"what"`
	} `json:"history"`
}

// webhookDelivery is one delivery as the razorpay service's GET
// /ops/webhooks lists it.
type webhookDelivery struct {
	At        time.Time `json:"at"`
	EventID   string    `json:"event_id"`
	Outcome   string    `json:"outcome"`
	Status    int       `json:"status"`
	Event     string    `json:"event"`
	OrderID   string    `json:"order_id"`
	PaymentID string    `json:"payment_id"`
	Result    string    `json:"result"`
}

// deadLetter is one dead letter as the payment service lists it: its kind
// (refund_not_made, ...; "" for one parked before kinds were kept), and
// Resolved (how the parked work settled after all; "" while it is still
// an operator's) with ResolvedAt.
type deadLetter struct {
	EventID    string    `json:"event_id"`
	Kind       string    `json:"kind"`
	PaymentID  string    `json:"payment_id"`
	Reason     string    `json:"reason"`
	Received   time.Time `json:"received"`
	Resolved   string    `json:"resolved"`
	ResolvedAt time.Time `json:"resolved_at"`
	Result     struct {
		OrderID   string `json:"order_id"`
		PaymentID string `json:"payment_id"`
		Status    string `json:"status"`
	} `json:"result"`
}

// Open reports whether the dead letter still waits for an operator.
func (d deadLetter) Open() bool { return d.Resolved == "" }

// openFirst returns the dead letters with the open ones first, each group
// in the order listed (newest first), and how many are open.
func openFirst(items []deadLetter) ([]deadLetter, int) {
	out := make([]deadLetter, 0, len(items))
	for _, d := range items {
		if d.Open() {
			out = append(out, d)
		}
	}
	open := len(out)
	for _, d := range items {
		if !d.Open() {
			out = append(out, d)
		}
	}
	return out, open
}

// render sends the page (or the login form) with status.
func render(c *fiber.Ctx, status int, v view) error {
	var b strings.Builder
	if err := pageTmpl.Execute(&b, v); err != nil {
		return fmt.Errorf("rendering the console: %w", err)
	}
	c.Set(fiber.HeaderContentType, fiber.MIMETextHTMLCharsetUTF8)
	c.Set(fiber.HeaderCacheControl, "no-store")
	c.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
	c.Set(fiber.HeaderXFrameOptions, "DENY") // frame-ancestors, for browsers without it
	c.Set(fiber.HeaderXContentTypeOptions, "nosniff")
	c.Set("Referrer-Policy", "no-referrer")
	return c.Status(status).SendString(b.String())
}
