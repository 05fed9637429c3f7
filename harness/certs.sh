#!/usr/bin/env bash
# Throwaway PEM certificates for the secured test clusters (tests/integration/harness/secure.rs),
# generated per test run with plain `openssl`:
#
#   harness/certs.sh DIR [SAN...]
#
# Each SAN (`DNS:kafka-a`, `IP:10.0.0.5`) is added to the broker certificate's subject alternative
# names, for brokers that clients reach by another name (docker-compose.secured.yml).
#
#   ca.crt                     the test CA
#   broker.key, broker.crt     the broker certificate (SAN localhost, 127.0.0.1 and any SAN...)
#   broker.pem                 broker key + certificate + CA: Kafka's file-based PEM keystore
#                              wants key and chain in one file
#   wronghost.pem              the same for a certificate of another host (SAN wrong.example):
#                              a client that verifies host names must refuse it
#   mirror.key, mirror.crt     a client certificate, CN=mirror (principal User:mirror)
#   mirror-enc.key             the same key, encrypted (PKCS#8, AES-256) with the password in
#                              mirror-enc.password
#   foreign-ca.crt             another CA, with foreign.key/foreign.crt (CN=mirror) signed by it:
#                              a broker or endpoint that trusts only ca.crt must refuse it
#
# Keys are PKCS#8 ("BEGIN PRIVATE KEY"): Kafka's PEM parser reads nothing else.
set -euo pipefail

[ $# -ge 1 ] || { echo "usage: $0 DIR [SAN...]" >&2; exit 2; }
command -v openssl >/dev/null || { echo "[certs.sh] error: openssl not found" >&2; exit 1; }
D=$1
shift
BROKER_SAN="DNS:localhost,IP:127.0.0.1"
for san in "$@"; do BROKER_SAN="$BROKER_SAN,$san"; done
mkdir -p "$D"
cd "$D"
DAYS=30

ca() { # NAME CN
  openssl req -x509 -newkey rsa:2048 -nodes -sha256 -days $DAYS \
    -keyout "$1.key" -out "$1.crt" -subj "/CN=$2" \
    -addext "basicConstraints=critical,CA:TRUE" \
    -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
}

leaf() { # NAME SUBJECT EKU CA [SAN]
  local name=$1 subj=$2 eku=$3 ca=$4 san=${5:-}
  openssl req -newkey rsa:2048 -nodes -sha256 -keyout "$name.key" -out "$name.csr" \
    -subj "$subj" 2>/dev/null
  {
    echo "basicConstraints=critical,CA:FALSE"
    echo "keyUsage=critical,digitalSignature,keyEncipherment"
    echo "extendedKeyUsage=$eku"
    if [ -n "$san" ]; then echo "subjectAltName=$san"; fi
  } >"$name.ext"
  openssl x509 -req -sha256 -days $DAYS -in "$name.csr" -CA "$ca.crt" -CAkey "$ca.key" \
    -CAcreateserial -out "$name.crt" -extfile "$name.ext" 2>/dev/null
  rm -f "$name.csr" "$name.ext"
}

ca ca strait-test-ca
ca foreign-ca strait-foreign-ca
leaf broker "/CN=localhost" "serverAuth,clientAuth" ca "$BROKER_SAN"
leaf wronghost "/CN=wrong.example" "serverAuth" ca "DNS:wrong.example"
leaf mirror "/CN=mirror" "clientAuth" ca
leaf foreign "/CN=mirror" "clientAuth" foreign-ca
for b in broker wronghost; do
  cat "$b.key" "$b.crt" ca.crt >"$b.pem"
done
openssl rand -hex 16 >mirror-enc.password
openssl pkcs8 -topk8 -v2 aes-256-cbc -in mirror.key -out mirror-enc.key \
  -passout "file:mirror-enc.password"
chmod 600 ./*.key ./*.pem mirror-enc.password
