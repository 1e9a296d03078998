# Stand-in for golang:<minor>-bookworm, the builder stage of
# deploy/docker/Dockerfile, for machines that cannot pull from Docker Hub.
# Debian bookworm (debootstrap) with the Go toolchain from the Go module
# proxy (golang.org/toolchain) at /usr/local/go and the official image's
# environment. The CA bundle is this machine's, so that `go build` in the
# image fetches modules through the same proxy and trust as the machine
# (its GOPROXY and GOSUMDB too).
FROM finflow-standin/debian:bookworm
ARG GO_PATCH
ARG GOPROXY=https://proxy.golang.org,direct
ARG GOSUMDB=sum.golang.org
COPY ca-certificates.crt /etc/ssl/certs/ca-certificates.crt
COPY goroot/ /usr/local/go/
RUN chmod -R u+w,a+rX /usr/local/go \
 && chmod a+x /usr/local/go/bin/* /usr/local/go/pkg/tool/*/* \
 && mkdir -p /go/bin /go/src && chmod -R 1777 /go
ENV GOLANG_VERSION=${GO_PATCH} GOTOOLCHAIN=local GOPATH=/go GOPROXY=${GOPROXY} GOSUMDB=${GOSUMDB} \
    PATH=/go/bin:/usr/local/go/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt
WORKDIR /go
