#!/usr/bin/env bash
# Generates seed corpora with the openssl command: make_seeds.sh OUT_DIR
set -euo pipefail
out=$1
mkdir -p "$out"/{certificate,private_key,pkcs12}
cd "$(mktemp -d)"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout ec.key -out ec.crt -days 30 -subj /CN=seed -addext subjectAltName=DNS:seed,IP:127.0.0.1 2>/dev/null
openssl req -x509 -newkey rsa:2048 -nodes -keyout rsa.key -out rsa.crt -days 30 -subj /CN=seed 2>/dev/null
cp ec.crt rsa.crt "$out/certificate/"
openssl x509 -in ec.crt -outform DER -out "$out/certificate/ec.der"
cat ec.crt rsa.crt > "$out/certificate/chain.pem"
cp ec.key rsa.key "$out/private_key/"
openssl pkey -in ec.key -outform DER -out "$out/private_key/ec.der"
openssl ec -in ec.key -out "$out/private_key/sec1.pem" 2>/dev/null
openssl rsa -in rsa.key -traditional -out "$out/private_key/pkcs1.pem" 2>/dev/null
openssl pkey -in ec.key -aes256 -passout pass:fuzz-password -out "$out/private_key/pkcs8-enc.pem"
openssl ec -in ec.key -aes128 -passout pass:fuzz-password -out "$out/private_key/legacy-enc.pem" 2>/dev/null
openssl pkcs12 -export -in ec.crt -inkey ec.key -passout pass:fuzz-password -out "$out/pkcs12/aes.p12"
openssl pkcs12 -export -in ec.crt -inkey ec.key -passout pass: -out "$out/pkcs12/nopass.p12"
