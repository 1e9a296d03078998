package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"

	commonv1pb "github.com/dapr/dapr/pkg/proto/common/v1"
	runtimev1pb "github.com/dapr/dapr/pkg/proto/runtime/v1"
	"github.com/gofiber/fiber/v2"
	"github.com/soheilhy/cmux"
	"github.com/valyala/fasthttp"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/anypb"
	"google.golang.org/protobuf/types/known/emptypb"

	"github.com/finflow/finflow/platform/contract"
)

// App protocols: how an app's sidecar calls it (daprd's --app-protocol, the
// run file's appProtocol; the launcher and the Dapr CLI give it to the app
// as APP_PROTOCOL).
const (
	ProtocolHTTP = "http"
	ProtocolGRPC = "grpc"
)

// ServeGRPC is Serve for an app whose sidecar calls it over gRPC
// (--app-protocol grpc): on the one listener, connections that open with
// HTTP/2 (daprd's gRPC client) are served Dapr's AppCallback and
// AppCallbackHealthCheck services, and every other connection (probes,
// curl, the launcher's health waits) is served by app over HTTP/1 as
// before. Each gRPC call is run through app's own handler chain in memory,
// as the HTTP request it stands for: the same routes, middleware (the app
// token and the identity token included), error envelope, access line and
// metrics; see GRPCChannel for how answers go back.
//
// opts.InputBindings names the input binding components the app takes
// (the route POST /<name> answers each event). Topic subscriptions are
// refused: daprd 1.14 delivers pub/sub events over gRPC without the app
// API token (pkg/runtime/subscription/publish.go), so the app could not
// tell its sidecar from any local process; ServeGRPC fails at once when
// GET /dapr/subscribe lists a topic. Such an app runs with the HTTP
// protocol.
func ServeGRPC(ctx context.Context, app *fiber.App, ln net.Listener, shutdownTimeout time.Duration, opts GRPCOptions) error {
	ch := NewGRPCChannel(app, opts)
	if err := ch.refuseSubscriptions(ctx); err != nil {
		return err
	}
	m := cmux.New(ln)
	// The two listeners cmux hands out share ln: closing either would close
	// it (for both), so theirs do nothing and ln is closed once, below.
	grpcL := keepOpen{m.Match(cmux.HTTP2())}
	httpL := keepOpen{m.Match(cmux.Any())}
	gs := grpc.NewServer()
	runtimev1pb.RegisterAppCallbackServer(gs, ch)
	runtimev1pb.RegisterAppCallbackHealthCheckServer(gs, ch)

	errc := make(chan error, 3)
	go func() { errc <- gs.Serve(grpcL) }()
	go func() { errc <- app.Listener(httpL) }()
	go func() { errc <- m.Serve() }()
	var served error
	select {
	case served = <-errc:
	case <-ctx.Done():
	}
	// Take no more connections, then let the calls under way finish.
	m.Close()
	stopped := make(chan struct{})
	go func() { gs.GracefulStop(); close(stopped) }()
	err := app.ShutdownWithTimeout(shutdownTimeout)
	select {
	case <-stopped:
	case <-time.After(shutdownTimeout):
		gs.Stop()
	}
	ln.Close()
	if served != nil {
		return fmt.Errorf("serving: %w", served)
	}
	if err != nil {
		return fmt.Errorf("stopping: %w", err)
	}
	return nil
}

// keepOpen is a listener whose Close leaves the listener under it open.
type keepOpen struct{ net.Listener }

func (keepOpen) Close() error { return nil }

// GRPCChannel serves Dapr's AppCallback service (the gRPC app channel) by
// running each call through a Fiber app's handler in memory.
//
// An invocation (OnInvoke) becomes the HTTP request it came from: the verb
// and query string of its HTTP extension, the path "/<method>", its body
// and content type, and the metadata daprd sends (the caller's headers, the
// app API token, the trace context) as headers. Its answer goes back as
// daprd expects from a gRPC app: a 2xx as an InvokeResponse with the body
// and content type; anything else as a gRPC status (its code the nearest
// to the HTTP status, its message the body), which the caller's sidecar
// answers as an HTTP status and a JSON body {"code", "message",
// "details"}. Because that mapping loses statuses (a 201, a 402, a 422),
// every answer also carries the app's own status and content type in the
// response headers contract.HeaderAppStatus and
// contract.HeaderAppContentType; package sidecar restores the answer
// exactly from them.
type GRPCChannel struct {
	runtimev1pb.UnimplementedAppCallbackServer
	runtimev1pb.UnimplementedAppCallbackHealthCheckServer

	handler fasthttp.RequestHandler
	opts    GRPCOptions
}

// GRPCOptions configures the gRPC app channel.
type GRPCOptions struct {
	// InputBindings names the input binding components the app takes; the
	// route POST /<name> answers each event.
	InputBindings []string
	// AppToken is the app API token (APP_API_TOKEN) that the app's
	// middleware requires of its sidecar. daprd 1.14 sends it with
	// invocations only; the channel adds it itself to the calls it makes
	// on its own behalf (an input binding's event, its look at GET
	// /dapr/subscribe), so an input binding's route is open to any local
	// process that reaches the port (see OnBindingEvent).
	AppToken string
}

// NewGRPCChannel returns the channel over app, whose routes must all be
// registered.
func NewGRPCChannel(app *fiber.App, opts GRPCOptions) *GRPCChannel {
	return &GRPCChannel{handler: app.Handler(), opts: opts}
}

// own is the metadata of a call the channel makes on its own behalf.
func (g *GRPCChannel) own() metadata.MD {
	md := metadata.MD{}
	if g.opts.AppToken != "" {
		md.Set("dapr-api-token", g.opts.AppToken)
	}
	return md
}

// loopback is the remote address the app sees for a call that came over
// the gRPC channel: its sidecar, on loopback (gRPC's peer is not passed on;
// nothing in FinFlow's internal services reads it).
var loopback = &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)}

// serve runs one request through the app and returns its status, content
// type, body (a copy) and the headers worth passing back.
func (g *GRPCChannel) serve(method, uri, contentType string, body []byte, header metadata.MD) (int, string, []byte, metadata.MD) {
	var req fasthttp.Request
	req.Header.SetMethod(method)
	req.SetRequestURI(uri)
	for k, vs := range header {
		k = requestHeaderName(k)
		if k == "" {
			continue
		}
		for _, v := range vs {
			req.Header.Add(k, v)
		}
	}
	if contentType != "" {
		req.Header.SetContentType(contentType)
	}
	req.SetBody(body)
	var fctx fasthttp.RequestCtx
	fctx.Init(&req, loopback, nil)
	g.handler(&fctx)

	resp := &fctx.Response
	out := metadata.MD{}
	resp.Header.VisitAll(func(k, v []byte) {
		switch name := strings.ToLower(string(k)); name {
		case "content-type", "content-length", "date", "server", "connection", "transfer-encoding":
		default:
			if !strings.HasPrefix(name, "grpc-") && !strings.HasPrefix(name, ":") {
				out.Append(name, string(v))
			}
		}
	})
	return resp.StatusCode(), string(resp.Header.ContentType()), append([]byte(nil), resp.Body()...), out
}

// requestHeaderName is the HTTP header a metadata key daprd sends stands
// for, or "" for one that is not a header of the request: gRPC's own keys,
// binary values, and the content type (carried in the request itself).
// daprd prefixes the headers HTTP/2 forbids or reserves with "dapr-"
// (Accept, Cookie, ...; pkg/messaging/v1 isPermanentHTTPHeader); those are
// given back their names. Dapr's own (dapr-api-token, dapr-caller-app-id)
// keep theirs.
func requestHeaderName(k string) string {
	k = strings.ToLower(k)
	switch {
	case strings.HasPrefix(k, ":"), strings.HasPrefix(k, "grpc-"), strings.HasSuffix(k, "-bin"),
		k == "content-type", k == "dapr-content-type", k == "content-length", k == "dapr-content-length",
		k == "te", k == "user-agent":
		return ""
	}
	if rest, ok := strings.CutPrefix(k, "dapr-"); ok {
		switch rest {
		case "accept", "accept-charset", "accept-language", "accept-ranges", "cache-control",
			"cookie", "date", "expect", "host", "if-match", "if-modified-since", "if-none-match",
			"if-range", "if-unmodified-since", "max-forwards", "pragma", "referer", "trailer",
			"via", "warning", "www-authenticate", "proxy-authorization", "authorization":
			return rest
		}
	}
	return k
}

// OnInvoke answers a service invocation (see GRPCChannel).
func (g *GRPCChannel) OnInvoke(ctx context.Context, in *commonv1pb.InvokeRequest) (*commonv1pb.InvokeResponse, error) {
	verb := "POST"
	uri := "/" + strings.TrimPrefix(in.GetMethod(), "/")
	if ext := in.GetHttpExtension(); ext != nil {
		if ext.GetVerb() == commonv1pb.HTTPExtension_NONE {
			return nil, status.Error(codes.InvalidArgument, "an invocation without an HTTP verb")
		}
		verb = ext.GetVerb().String()
		if q := ext.GetQuerystring(); q != "" {
			uri += "?" + q
		}
	}
	md, _ := metadata.FromIncomingContext(ctx)
	code, ct, body, header := g.serve(verb, uri, in.GetContentType(), in.GetData().GetValue(), md)
	header.Set(strings.ToLower(contract.HeaderAppStatus), strconv.Itoa(code))
	if ct != "" {
		header.Set(strings.ToLower(contract.HeaderAppContentType), ct)
	}
	if err := grpc.SetHeader(ctx, header); err != nil {
		return nil, status.Error(codes.Internal, "setting the answer's headers: "+err.Error())
	}
	if code >= 200 && code < 300 {
		return &commonv1pb.InvokeResponse{Data: &anypb.Any{Value: body}, ContentType: ct}, nil
	}
	return nil, status.Error(CodeForStatus(code), string(body))
}

// CodeForStatus is the gRPC code daprd maps back to the HTTP status nearest
// to status (grpc-gateway's table, which daprd's HTTPStatusFromCode uses):
// exact for 400, 401, 403, 404, 409, 429, 499, 501, 503 and 504; other 4xx
// become FailedPrecondition (400) and other statuses Internal (500).
func CodeForStatus(status int) codes.Code {
	switch status {
	case 400:
		return codes.InvalidArgument
	case 401:
		return codes.Unauthenticated
	case 403:
		return codes.PermissionDenied
	case 404:
		return codes.NotFound
	case 409:
		return codes.Aborted
	case 429:
		return codes.ResourceExhausted
	case 499:
		return codes.Canceled
	case 501:
		return codes.Unimplemented
	case 503:
		return codes.Unavailable
	case 504:
		return codes.DeadlineExceeded
	}
	if status >= 400 && status < 500 {
		return codes.FailedPrecondition
	}
	return codes.Internal
}

// HealthCheck is daprd's app health probe over gRPC: GET /healthz.
func (g *GRPCChannel) HealthCheck(context.Context, *emptypb.Empty) (*runtimev1pb.HealthCheckResponse, error) {
	code, _, body, _ := g.serve("GET", "/healthz", "", nil, nil)
	if code != 200 {
		return nil, status.Errorf(codes.Unavailable, "GET /healthz = %d %s", code, body)
	}
	return &runtimev1pb.HealthCheckResponse{}, nil
}

// ListInputBindings names the input bindings the app takes.
func (g *GRPCChannel) ListInputBindings(context.Context, *emptypb.Empty) (*runtimev1pb.ListInputBindingsResponse, error) {
	return &runtimev1pb.ListInputBindingsResponse{Bindings: g.opts.InputBindings}, nil
}

// OnBindingEvent delivers an input binding's event as daprd's HTTP channel
// does: POST /<binding name> with the event's data as the body and its
// metadata as headers. Anything but a 2xx is an error (daprd logs it).
// daprd 1.14 sends no app API token with it over gRPC, so the route must
// be one that any local process may call without harm (billing's tick only
// makes billing look for what is due).
func (g *GRPCChannel) OnBindingEvent(_ context.Context, in *runtimev1pb.BindingEventRequest) (*runtimev1pb.BindingEventResponse, error) {
	if !g.takes(in.GetName()) {
		return nil, status.Errorf(codes.NotFound, "no input binding %q here", in.GetName())
	}
	md := g.own()
	for k, v := range in.GetMetadata() {
		if strings.ToLower(k) != "dapr-api-token" {
			md.Set(k, v)
		}
	}
	code, _, body, _ := g.serve("POST", "/"+in.GetName(), "application/json", in.GetData(), md)
	if code < 200 || code >= 300 {
		return nil, status.Error(CodeForStatus(code), string(body))
	}
	return &runtimev1pb.BindingEventResponse{}, nil
}

func (g *GRPCChannel) takes(name string) bool {
	for _, b := range g.opts.InputBindings {
		if b == name {
			return true
		}
	}
	return false
}

// ListTopicSubscriptions lists none: see ServeGRPC.
func (g *GRPCChannel) ListTopicSubscriptions(context.Context, *emptypb.Empty) (*runtimev1pb.ListTopicSubscriptionsResponse, error) {
	return &runtimev1pb.ListTopicSubscriptionsResponse{}, nil
}

// OnTopicEvent refuses the event with an error daprd redelivers, never
// DROP (which Unimplemented would be): an event is not lost because it was
// routed to an app that cannot take it (see ServeGRPC).
func (g *GRPCChannel) OnTopicEvent(_ context.Context, in *runtimev1pb.TopicEventRequest) (*runtimev1pb.TopicEventResponse, error) {
	return nil, status.Errorf(codes.FailedPrecondition,
		"this app takes no pub/sub events over the gRPC app channel (daprd 1.14 sends them without the app API token); event %s of topic %s not taken", in.GetId(), in.GetTopic())
}

// errSubscribes is ServeGRPC's refusal of an app with subscriptions.
var errSubscribes = errors.New("the app subscribes to pub/sub topics (GET /dapr/subscribe), which daprd 1.14 delivers over the gRPC app channel without the app API token: run it with the HTTP app protocol")

// refuseSubscriptions fails when the app's GET /dapr/subscribe lists any
// topic.
func (g *GRPCChannel) refuseSubscriptions(context.Context) error {
	code, _, body, _ := g.serve("GET", "/dapr/subscribe", "", nil, g.own())
	if code == 404 {
		return nil
	}
	var subs []json.RawMessage
	if code != 200 || json.Unmarshal(body, &subs) != nil {
		return fmt.Errorf("GET /dapr/subscribe = %d %s: cannot tell whether the app subscribes", code, body)
	}
	if len(subs) > 0 {
		return errSubscribes
	}
	return nil
}
