package auth

import "slices"

// Caller is who is asking, as a service sees a request: the gateway's
// signed identity of a user or an admin (Signed false when the request
// carries none), and the Dapr app that called (its sidecar names it,
// authenticated by mTLS when Sentry runs). Domain use cases take a Caller
// and apply the rules below, so a handler never decides who may act.
type Caller struct {
	Identity Identity
	Signed   bool
	App      string
}

// Owner admits an admin, or the user who owns the resource. Without an
// identity it is ErrUnauthenticated; anyone else gets ErrForbidden.
func (c Caller) Owner(ownerID string) error {
	switch {
	case !c.Signed:
		return ErrUnauthenticated
	case c.Identity.Admin() || c.Identity.Sub == ownerID:
		return nil
	}
	return ErrForbidden
}

// Admin admits an admin only.
func (c Caller) Admin() error {
	switch {
	case !c.Signed:
		return ErrUnauthenticated
	case c.Identity.Admin():
		return nil
	}
	return ErrForbidden.With("only an admin may do this", nil)
}

// FromApp admits calls from the given Dapr apps (internal routes). A
// request carrying a user identity is not such a call.
func (c Caller) FromApp(apps ...string) error {
	if !c.Signed && slices.Contains(apps, c.App) {
		return nil
	}
	return ErrForbidden.With("this route is internal", nil)
}

// OwnerOrApp admits the owner, an admin, or one of the given apps.
func (c Caller) OwnerOrApp(ownerID string, apps ...string) error {
	if c.FromApp(apps...) == nil {
		return nil
	}
	return c.Owner(ownerID)
}

// Payer returns whose bills a payment request may pay: "" for an admin (any
// bill), the user's own id otherwise.
func (c Caller) Payer() (string, error) {
	switch {
	case !c.Signed:
		return "", ErrUnauthenticated
	case c.Identity.Admin():
		return "", nil
	}
	return c.Identity.Sub, nil
}
