#!/usr/bin/env bash
# Makes a throwaway certificate authority and a server certificate for a local test LDAP server.
#
#   scripts/mkcerts.sh OUTDIR        -> OUTDIR/ca.crt ca.key server.crt server.key
#
# The server certificate is signed by the CA and names DNS:localhost and IP:127.0.0.1 (override
# with MKCERTS_SAN="DNS:ldap.test,IP:127.0.0.1"; the subject CN is MKCERTS_SERVER_CN, default
# localhost, which TLS clients only consult when the SAN lists no DNS name). Keys are RSA 2048,
# valid 10 years, mode 600.
# Existing files are kept (delete OUTDIR to make new ones). Needs only openssl.
set -euo pipefail
out=${1:?usage: scripts/mkcerts.sh OUTDIR}
san=${MKCERTS_SAN:-DNS:localhost,IP:127.0.0.1}
cn=${MKCERTS_CN:-roster test CA}
mkdir -p "$out"
cd "$out"
if [ -f server.crt ] && [ -f server.key ] && [ -f ca.crt ]; then exit 0; fi
command -v openssl >/dev/null || { echo "mkcerts.sh: openssl is not installed" >&2; exit 1; }
openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -sha256 \
  -keyout ca.key -out ca.crt -subj "/CN=$cn" \
  -addext "basicConstraints=critical,CA:TRUE" \
  -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
openssl req -newkey rsa:2048 -nodes -sha256 -keyout server.key -out server.csr \
  -subj "/CN=${MKCERTS_SERVER_CN:-localhost}" 2>/dev/null
printf '%s\n' "basicConstraints=CA:FALSE" "keyUsage=critical,digitalSignature,keyEncipherment" \
  "extendedKeyUsage=serverAuth" "subjectAltName=$san" > server.ext
openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 3650 -sha256 \
  -extfile server.ext -out server.crt 2>/dev/null
rm -f server.csr server.ext ca.srl
chmod 600 ca.key server.key
