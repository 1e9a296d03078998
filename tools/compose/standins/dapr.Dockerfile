# Stand-in for daprio/daprd:<version> and daprio/sentry:<version>: the
# binary `make daprd` provides (.bin/daprd, .bin/sentry: Dapr's own code,
# built from github.com/dapr/dapr through the Go module proxy) at /<name>,
# WORKDIR /, user 65532, as Dapr's image (distroless/static:nonroot). That
# build is linked against glibc, so the base is Debian, not distroless.
FROM finflow-standin/debian:bookworm
ARG BINARY
COPY ${BINARY} /${BINARY}
WORKDIR /
USER 65532:65532
