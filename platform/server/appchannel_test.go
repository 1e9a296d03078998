package server_test

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	commonv1pb "github.com/dapr/dapr/pkg/proto/common/v1"
	runtimev1pb "github.com/dapr/dapr/pkg/proto/runtime/v1"
	"github.com/gofiber/fiber/v2"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/anypb"
	"google.golang.org/protobuf/types/known/emptypb"

	"github.com/finflow/finflow/platform/apperr"
	"github.com/finflow/finflow/platform/contract"
	"github.com/finflow/finflow/platform/server"
)

const testAppToken = "app-token"

// channelApp is a Fiber app as a service builds it: the app token required
// of every call but the probes, and routes answering each kind of status.
func channelApp(t *testing.T, subscribe string) (*fiber.App, *[]string) {
	app := server.New(server.Config{Name: "test", Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	var ticks []string
	app.Get("/healthz", func(c *fiber.Ctx) error { return c.JSON(fiber.Map{"status": "ok"}) })
	app.Use(func(c *fiber.Ctx) error {
		if c.Get("dapr-api-token") != testAppToken {
			return apperr.New(apperr.KindUnauthenticated, apperr.CodeUnauthenticated, "only this service's Dapr sidecar may call it")
		}
		return c.Next()
	})
	app.Get("/dapr/subscribe", func(c *fiber.Ctx) error { return c.Type("json").SendString(subscribe) })
	app.Post("/things/create", func(c *fiber.Ctx) error {
		if c.Get(fiber.HeaderContentType) != fiber.MIMEApplicationJSON {
			return apperr.Invalid("Content-Type", "want application/json, got %q", c.Get(fiber.HeaderContentType))
		}
		return c.Status(fiber.StatusCreated).JSON(fiber.Map{"body": string(c.Body()), "caller": c.Get("dapr-caller-app-id"), "accept": c.Get("Accept")})
	})
	app.Get("/things/:id", func(c *fiber.Ctx) error {
		return c.JSON(fiber.Map{"id": c.Params("id"), "limit": c.Query("limit")})
	})
	app.Put("/wallet/deduct", func(*fiber.Ctx) error {
		return apperr.New(apperr.KindUnprocessable, "INSUFFICIENT_FUNDS", "balance 100 paise is less than 500 paise")
	})
	app.Get("/down", func(*fiber.Ctx) error { return apperr.Unavailable("store down", nil) })
	app.Post("/billing-schedule", func(c *fiber.Ctx) error {
		ticks = append(ticks, string(c.Body()))
		return c.JSON(fiber.Map{"ok": true})
	})
	return app, &ticks
}

// serveChannel runs ServeGRPC on a loopback port and returns the address
// and a client of its AppCallback services.
func serveChannel(t *testing.T, app *fiber.App) (string, runtimev1pb.AppCallbackClient, runtimev1pb.AppCallbackHealthCheckClient) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- server.ServeGRPC(ctx, app, ln, time.Second, server.GRPCOptions{InputBindings: []string{"billing-schedule"}, AppToken: testAppToken})
	}()
	conn, err := grpc.NewClient(ln.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		conn.Close()
		cancel()
		if err := <-done; err != nil {
			t.Errorf("ServeGRPC: %v", err)
		}
	})
	return ln.Addr().String(), runtimev1pb.NewAppCallbackClient(conn), runtimev1pb.NewAppCallbackHealthCheckClient(conn)
}

func TestGRPCChannelInvoke(t *testing.T) {
	app, _ := channelApp(t, "[]")
	_, cb, _ := serveChannel(t, app)
	envelope := func(code, msg string) string {
		return `{"error":{"code":"` + code + `","message":"` + msg + `"}}`
	}
	cases := []struct {
		name       string
		method     string
		verb       commonv1pb.HTTPExtension_Verb
		query      string
		body       string
		md         []string // key, value pairs as daprd sends them
		wantStatus int
		wantCode   codes.Code
		wantBody   string // exact, or a prefix ending in "*"
	}{
		{name: "created, with the caller's headers", method: "things/create", verb: commonv1pb.HTTPExtension_POST, body: `{"a":1}`,
			md:         []string{"dapr-api-token", testAppToken, "dapr-caller-app-id", "payment", "dapr-accept", "application/json"},
			wantStatus: 201, wantCode: codes.OK, wantBody: `{"accept":"application/json","body":"{\"a\":1}","caller":"payment"}`},
		{name: "path parameter and query string", method: "things/t_1", verb: commonv1pb.HTTPExtension_GET, query: "limit=5",
			md: []string{"dapr-api-token", testAppToken}, wantStatus: 200, wantCode: codes.OK, wantBody: `{"id":"t_1","limit":"5"}`},
		{name: "a refusal keeps its status and envelope", method: "wallet/deduct", verb: commonv1pb.HTTPExtension_PUT, body: `{}`,
			md: []string{"dapr-api-token", testAppToken}, wantStatus: 422, wantCode: codes.FailedPrecondition,
			wantBody: envelope("INSUFFICIENT_FUNDS", "balance 100 paise is less than 500 paise")},
		{name: "no app token", method: "things/t_1", verb: commonv1pb.HTTPExtension_GET,
			wantStatus: 401, wantCode: codes.Unauthenticated, wantBody: `{"error":{"code":"UNAUTHENTICATED",*`},
		{name: "wrong app token", method: "things/t_1", verb: commonv1pb.HTTPExtension_GET, md: []string{"dapr-api-token", "forged"},
			wantStatus: 401, wantCode: codes.Unauthenticated, wantBody: `{"error":{"code":"UNAUTHENTICATED",*`},
		{name: "no such route", method: "nowhere", verb: commonv1pb.HTTPExtension_GET, md: []string{"dapr-api-token", testAppToken},
			wantStatus: 404, wantCode: codes.NotFound, wantBody: `{"error":{"code":"ROUTE_NOT_FOUND",*`},
		{name: "unavailable", method: "down", verb: commonv1pb.HTTPExtension_GET, md: []string{"dapr-api-token", testAppToken},
			wantStatus: 503, wantCode: codes.Unavailable, wantBody: `{"error":{"code":"UNAVAILABLE",*`},
		{name: "wrong media type", method: "things/create", verb: commonv1pb.HTTPExtension_POST, body: `{}`,
			md: []string{"dapr-api-token", testAppToken}, wantStatus: 400, wantCode: codes.InvalidArgument, wantBody: `{"error":{"code":"VALIDATION_FAILED",*`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ctx := metadata.AppendToOutgoingContext(context.Background(), tc.md...)
			ct := ""
			if tc.body != "" && tc.name != "wrong media type" {
				ct = "application/json"
			}
			var header metadata.MD
			resp, err := cb.OnInvoke(ctx, &commonv1pb.InvokeRequest{
				Method: tc.method, Data: &anypb.Any{Value: []byte(tc.body)}, ContentType: ct,
				HttpExtension: &commonv1pb.HTTPExtension{Verb: tc.verb, Querystring: tc.query},
			}, grpc.Header(&header))
			if got := status.Code(err); got != tc.wantCode {
				t.Fatalf("gRPC code = %v (%v), want %v", got, err, tc.wantCode)
			}
			if got := header.Get(strings.ToLower(contract.HeaderAppStatus)); len(got) != 1 || got[0] != strconv.Itoa(tc.wantStatus) {
				t.Errorf("%s = %q, want %d", contract.HeaderAppStatus, got, tc.wantStatus)
			}
			if got := header.Get(strings.ToLower(contract.HeaderAppContentType)); len(got) != 1 || !strings.HasPrefix(got[0], "application/json") {
				t.Errorf("%s = %q, want application/json", contract.HeaderAppContentType, got)
			}
			if got := header.Get(strings.ToLower(server.HeaderRequestID)); len(got) != 1 || got[0] == "" {
				t.Errorf("the request id header did not come back: %v", header)
			}
			body := string(resp.GetData().GetValue())
			if err != nil {
				body = status.Convert(err).Message()
			}
			if want, prefix := strings.CutSuffix(tc.wantBody, "*"); prefix && !strings.HasPrefix(body, want) || !prefix && body != want {
				t.Errorf("body = %s, want %s", body, tc.wantBody)
			}
		})
	}
}

func TestGRPCChannelServesHTTPOnTheSamePort(t *testing.T) {
	app, _ := channelApp(t, "[]")
	addr, _, health := serveChannel(t, app)
	resp, err := http.Get("http://" + addr + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(body), `"ok"`) {
		t.Errorf("GET /healthz over HTTP/1 = %d %s", resp.StatusCode, body)
	}
	if _, err := health.HealthCheck(context.Background(), &emptypb.Empty{}); err != nil {
		t.Errorf("HealthCheck = %v", err)
	}
}

func TestGRPCChannelBindingsAndTopics(t *testing.T) {
	app, ticks := channelApp(t, "[]")
	_, cb, _ := serveChannel(t, app)
	ctx := context.Background()
	list, err := cb.ListInputBindings(ctx, &emptypb.Empty{})
	if err != nil || len(list.GetBindings()) != 1 || list.GetBindings()[0] != "billing-schedule" {
		t.Fatalf("ListInputBindings = %v, %v", list, err)
	}
	// daprd sends no app token with a binding's event; the channel adds it.
	if _, err := cb.OnBindingEvent(ctx, &runtimev1pb.BindingEventRequest{Name: "billing-schedule", Data: []byte(`{}`)}); err != nil {
		t.Fatalf("OnBindingEvent = %v", err)
	}
	if len(*ticks) != 1 {
		t.Errorf("ticks = %q, want one", *ticks)
	}
	if _, err := cb.OnBindingEvent(ctx, &runtimev1pb.BindingEventRequest{Name: "other"}); status.Code(err) != codes.NotFound {
		t.Errorf("OnBindingEvent of a binding the app does not take = %v, want NotFound", err)
	}
	subs, err := cb.ListTopicSubscriptions(ctx, &emptypb.Empty{})
	if err != nil || len(subs.GetSubscriptions()) != 0 {
		t.Errorf("ListTopicSubscriptions = %v, %v; want none", subs, err)
	}
	// Refused so that daprd delivers it again, never DROP (Unimplemented).
	if _, err := cb.OnTopicEvent(ctx, &runtimev1pb.TopicEventRequest{Id: "e1", Topic: "t"}); status.Code(err) != codes.FailedPrecondition {
		t.Errorf("OnTopicEvent = %v, want FailedPrecondition", err)
	}
}

func TestServeGRPCRefusesAnAppThatSubscribes(t *testing.T) {
	for _, tc := range []struct {
		subscribe string
		refused   bool
	}{
		{`[]`, false},
		{`[{"pubsubname":"finflow-pubsub","topic":"razorpay-results","route":"/Payment/confirm"}]`, true},
		{`{"not":"a list"}`, true},
	} {
		app, _ := channelApp(t, tc.subscribe)
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
		err = server.ServeGRPC(ctx, app, ln, time.Second, server.GRPCOptions{AppToken: testAppToken})
		cancel()
		if (err != nil) != tc.refused {
			t.Errorf("GET /dapr/subscribe = %s: ServeGRPC = %v, want refused %v", tc.subscribe, err, tc.refused)
		}
	}
}

func TestCodeForStatus(t *testing.T) {
	// The code daprd turns back into an HTTP status
	// (invokev1.HTTPStatusFromCode) must give the same status where one
	// exists.
	for status, want := range map[int]codes.Code{
		400: codes.InvalidArgument, 401: codes.Unauthenticated, 402: codes.FailedPrecondition, 403: codes.PermissionDenied,
		404: codes.NotFound, 409: codes.Aborted, 413: codes.FailedPrecondition, 422: codes.FailedPrecondition,
		429: codes.ResourceExhausted, 500: codes.Internal, 502: codes.Internal, 503: codes.Unavailable, 504: codes.DeadlineExceeded,
	} {
		if got := server.CodeForStatus(status); got != want {
			t.Errorf("CodeForStatus(%d) = %v, want %v", status, got, want)
		}
	}
}
