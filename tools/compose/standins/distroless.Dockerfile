# Stand-in for gcr.io/distroless/static-debian12:nonroot, the runtime stage of
# deploy/docker/Dockerfile: no shell, no package manager; root, nobody and
# nonroot (65532) in /etc/passwd, a world-writable /tmp, CA certificates,
# running as 65532 in /home/nonroot, as the real image does.
FROM finflow-standin/debian:bookworm AS rootfs
COPY ca-certificates.crt /rootfs/etc/ssl/certs/ca-certificates.crt
RUN set -e; cd /rootfs; \
    mkdir -p etc tmp root home/nonroot var; chmod 1777 tmp; chmod 700 root; \
    printf 'root:x:0:0:root:/root:/sbin/nologin\nnobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin\nnonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n' >etc/passwd; \
    printf 'root:x:0:\nnobody:x:65534:\ntty:x:5:\nstaff:x:50:\nnonroot:x:65532:\n' >etc/group; \
    printf 'hosts: files dns\n' >etc/nsswitch.conf; \
    cp /etc/os-release etc/os-release; \
    chown 65532:65532 home/nonroot; chmod 700 home/nonroot

FROM scratch
COPY --from=rootfs /rootfs/ /
USER 65532:65532
WORKDIR /home/nonroot
ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt
