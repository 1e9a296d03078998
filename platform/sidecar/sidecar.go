// Package sidecar is FinFlow's client for its Dapr sidecar: state, service
// invocation, secrets, pub/sub and the configuration API.
//
// State, secrets, publishing and configuration go over gRPC with the Dapr Go
// SDK. Service invocation goes over the sidecar's HTTP API instead, because
// the SDK's invocation of an HTTP app drops the callee's error body, and
// FinFlow's error codes live in that body.
package sidecar

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"

	dapr "github.com/dapr/go-sdk/client"
	"google.golang.org/grpc"
	"google.golang.org/grpc/backoff"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"

	"github.com/finflow/finflow/platform/envconfig"
)

// Config says where the sidecar listens. The launcher and the Dapr CLI set
// DAPR_HTTP_PORT and DAPR_GRPC_PORT in the app's environment.
type Config struct {
	HTTPPort int
	GRPCPort int
	// APIToken, when set, is sent to the sidecar as dapr-api-token.
	APIToken string
	// StartTimeout bounds how long Connect waits for the sidecar.
	StartTimeout time.Duration
}

// ConfigFromEnv reads DAPR_HTTP_PORT, DAPR_GRPC_PORT, DAPR_API_TOKEN and
// SIDECAR_START_TIMEOUT.
func ConfigFromEnv(env *envconfig.Env) Config {
	return Config{
		HTTPPort:     env.Int("DAPR_HTTP_PORT", 3500),
		GRPCPort:     env.Int("DAPR_GRPC_PORT", 50001),
		APIToken:     env.String("DAPR_API_TOKEN", ""),
		StartTimeout: env.Duration("SIDECAR_START_TIMEOUT", 90*time.Second),
	}
}

// Client talks to one sidecar. It is safe for concurrent use.
type Client struct {
	sdk      dapr.Client
	http     *http.Client
	httpBase string
	token    string
	// storeTypes caches each state store's component type (StoreType).
	storeTypes sync.Map
	// undeliveredBudget bounds Invoke's retries of calls that never left
	// (0: 5 s).
	undeliveredBudget time.Duration
	// callTimeout bounds a call whose context has no deadline (0: 10 s).
	callTimeout time.Duration
	// configResync is how often WatchConfig reads every key again while
	// subscribed (0: configResyncEvery); configRetryFirst, when set, scales
	// its backoff down (tests).
	configResync, configRetryFirst time.Duration
}

// Connect waits until the sidecar answers (its outbound health, which is
// ready before the app is), then opens the gRPC connection. It gives up
// after cfg.StartTimeout with an error that says which ports it tried.
func Connect(ctx context.Context, cfg Config) (*Client, error) {
	if cfg.StartTimeout == 0 {
		cfg.StartTimeout = 90 * time.Second
	}
	c := &Client{
		httpBase: "http://127.0.0.1:" + strconv.Itoa(cfg.HTTPPort),
		token:    cfg.APIToken,
		http: &http.Client{Transport: &http.Transport{
			DialContext:         (&net.Dialer{Timeout: 2 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
			MaxIdleConns:        512,
			MaxIdleConnsPerHost: 512,
			IdleConnTimeout:     90 * time.Second,
		}},
	}
	ctx, cancel := context.WithTimeout(ctx, cfg.StartTimeout)
	defer cancel()
	if err := c.waitOutbound(ctx); err != nil {
		return nil, fmt.Errorf("waiting for the Dapr sidecar on http port %d: %w", cfg.HTTPPort, err)
	}
	conn, err := dial(cfg)
	if err != nil {
		return nil, fmt.Errorf("connecting to the Dapr sidecar on grpc port %d: %w", cfg.GRPCPort, err)
	}
	c.sdk = dapr.NewClientWithConnection(conn)
	return c, nil
}

// dial opens the gRPC connection to the sidecar. When the sidecar restarts
// (a crash, a deploy), the connection comes back within a second rather
// than after gRPC's default backoff of up to two minutes, and calls wait for
// it (bounded by their context) instead of failing at once.
func dial(cfg Config) (*grpc.ClientConn, error) {
	token := func(ctx context.Context) context.Context {
		if cfg.APIToken == "" {
			return ctx
		}
		return metadata.AppendToOutgoingContext(ctx, "dapr-api-token", cfg.APIToken)
	}
	return grpc.NewClient("127.0.0.1:"+strconv.Itoa(cfg.GRPCPort),
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithConnectParams(grpc.ConnectParams{
			Backoff:           backoff.Config{BaseDelay: 100 * time.Millisecond, Multiplier: 1.6, Jitter: 0.2, MaxDelay: time.Second},
			MinConnectTimeout: 2 * time.Second,
		}),
		grpc.WithDefaultCallOptions(grpc.WaitForReady(true)),
		grpc.WithUnaryInterceptor(func(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
			return invoker(token(ctx), method, req, reply, cc, opts...)
		}),
		grpc.WithStreamInterceptor(func(ctx context.Context, desc *grpc.StreamDesc, cc *grpc.ClientConn, method string, streamer grpc.Streamer, opts ...grpc.CallOption) (grpc.ClientStream, error) {
			return streamer(token(ctx), desc, cc, method, opts...)
		}),
	)
}

// waitOutbound polls GET /v1.0/healthz/outbound until it answers 2xx.
func (c *Client) waitOutbound(ctx context.Context) error {
	var last error
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, c.httpBase+"/v1.0/healthz/outbound", nil)
		resp, err := c.http.Do(req)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode/100 == 2 {
				return nil
			}
			err = fmt.Errorf("sidecar answered %d", resp.StatusCode)
		}
		last = err
		select {
		case <-ctx.Done():
			return fmt.Errorf("%w (last: %v)", ctx.Err(), last)
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// Close closes the gRPC connection and idle HTTP connections.
func (c *Client) Close() {
	if c.sdk != nil {
		c.sdk.Close()
	}
	c.http.CloseIdleConnections()
}

// Healthy reports whether the sidecar itself answers its health endpoint.
func (c *Client) Healthy(ctx context.Context) error {
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, c.httpBase+"/v1.0/healthz/outbound", nil)
	resp, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("sidecar health: %w", err)
	}
	resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("sidecar health: status %d", resp.StatusCode)
	}
	return nil
}

// ErrSidecar marks failures of the sidecar or of what is behind it (a state
// store down, a target app unreachable), as opposed to answers from an app.
// It is apperr.Temporary, so such failures reach clients as 503.
var ErrSidecar error = temporary("dapr sidecar")

type temporary string

func (t temporary) Error() string   { return string(t) }
func (t temporary) Temporary() bool { return true }
