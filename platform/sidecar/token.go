package sidecar

import (
	"context"

	"google.golang.org/grpc/metadata"
)

// withToken adds the Dapr API token to an outgoing gRPC context, for calls
// made with the raw proto client rather than the SDK.
func withToken(ctx context.Context, token string) context.Context {
	return metadata.AppendToOutgoingContext(ctx, "dapr-api-token", token)
}
