package domain

import (
	"net/url"

	"github.com/finflow/finflow/platform/settings"
)

// SettingAPIBaseURL is Razorpay's address: the simulator by default,
// https://api.razorpay.com with real test-mode keys in the secret store.
const SettingAPIBaseURL = "razorpay.api_base_url"

// TextSettings declares the razorpay service's runtime settings.
var TextSettings = []settings.String{{
	Key: SettingAPIBaseURL, Default: "http://127.0.0.1:8090",
	Valid: func(v string) bool {
		u, err := url.Parse(v)
		return err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != ""
	},
}}
