#!/bin/sh
# Writes the certificate authority Docker Compose's Sentry signs the
# sidecars' mTLS certificates with: ca.crt (the trust anchor every sidecar
# gets in DAPR_TRUST_ANCHORS), issuer.crt and issuer.key (what Sentry signs
# with), in the shape Dapr 1.14's Sentry makes them itself: an ECDSA P-256
# root for the trust domain "localhost", and an issuer below it.
#
#   tools/compose/test-mode-ca.sh [folder]     (default deploy/compose/sentry)
#
# The copy in deploy/compose/sentry is TEST-MODE: its issuer key is in the
# repository, so it proves that mTLS and the access policies work, and
# protects nothing from anyone who has the repository. For anything else,
# write your own into a folder of your own (FINFLOW_SENTRY_CREDENTIALS) and
# give the sidecars its ca.crt (FINFLOW_DAPR_TRUST_ANCHORS); docs/deploy.md
# says how. The root's own key is not kept: nothing needs it once the
# issuer is signed.
set -eu
root=$(cd "$(dirname "$0")/../.." && pwd)
out=${1:-$root/deploy/compose/sentry}
days=${FINFLOW_CA_DAYS:-3650}
trust_domain=localhost
mkdir -p "$out"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$tmp/ca.key"
openssl req -x509 -new -key "$tmp/ca.key" -sha256 -days "$days" -subj "/O=$trust_domain" \
	-addext "basicConstraints=critical,CA:true" \
	-addext "keyUsage=critical,digitalSignature,keyEncipherment,keyCertSign" \
	-out "$tmp/ca.crt"
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$tmp/issuer.key"
openssl req -new -key "$tmp/issuer.key" -subj "/O=spiffe:\\/\\/$trust_domain\\/ns\\/default\\/dapr-sentry" -out "$tmp/issuer.csr"
printf 'basicConstraints=critical,CA:true\nkeyUsage=critical,digitalSignature,keyEncipherment,keyCertSign,cRLSign\n' >"$tmp/issuer.ext"
openssl x509 -req -in "$tmp/issuer.csr" -CA "$tmp/ca.crt" -CAkey "$tmp/ca.key" -CAcreateserial \
	-sha256 -days "$days" -extfile "$tmp/issuer.ext" -out "$tmp/issuer.crt" 2>/dev/null
openssl verify -CAfile "$tmp/ca.crt" "$tmp/issuer.crt" >/dev/null

cp "$tmp/ca.crt" "$tmp/issuer.crt" "$out/"
cp "$tmp/issuer.key" "$out/issuer.key"
chmod 644 "$out/ca.crt" "$out/issuer.crt" "$out/issuer.key"
echo "wrote $out/ca.crt, issuer.crt and issuer.key (valid $days days)"
