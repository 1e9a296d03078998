package domain

import (
	"net/url"

	"github.com/finflow/finflow/platform/settings"
)

// SettingAPIBaseURL is Razorpay's address: the simulator by default,
// https://api.razorpay.com with real test-mode keys in the secret store.
// It is a scheme and a host (and port) only: razorpay-go adds the path
// (/v1/orders ...) itself, so a base URL with a path, even "/" or "/v1" as
// Razorpay's docs write the API's base, would send every call to an address
// Razorpay does not serve; such a value is refused (and the last good one
// kept), as are a query, a fragment and user info.
const SettingAPIBaseURL = "razorpay.api_base_url"

// TextSettings declares the razorpay service's runtime settings.
var TextSettings = []settings.String{{
	Key: SettingAPIBaseURL, Default: "http://127.0.0.1:8090",
	Valid: func(v string) bool {
		u, err := url.Parse(v)
		return err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != "" &&
			u.Path == "" && u.RawPath == "" && !u.ForceQuery && u.RawQuery == "" && u.Fragment == "" && u.User == nil && u.Opaque == ""
	},
}}
