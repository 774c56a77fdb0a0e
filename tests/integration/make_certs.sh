#!/bin/sh
# Test certificates, made with the openssl CLI into DIR: a CA (ca.pem), server
# certificates for 127.0.0.1/localhost (server.pem/key, and server2 to swap in on
# SIGHUP), a client certificate the CA signed (client), and a self-signed client
# certificate (rogue). P-256 keys, valid two days.
set -eu
d=$1
ec="-newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes"
printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n' > "$d/server.ext"
printf 'extendedKeyUsage=clientAuth\n' > "$d/client.ext"
openssl req -x509 $ec -keyout "$d/ca.key" -out "$d/ca.pem" -days 2 -subj /CN=arbor-test-ca 2>/dev/null
for spec in server:arbor-server-1:server server2:arbor-server-2:server client:arbor-client:client; do
  name=${spec%%:*}; rest=${spec#*:}; cn=${rest%%:*}; ext=${rest#*:}
  openssl req $ec -keyout "$d/$name.key" -out "$d/$name.csr" -subj "/CN=$cn" 2>/dev/null
  openssl x509 -req -in "$d/$name.csr" -CA "$d/ca.pem" -CAkey "$d/ca.key" -CAcreateserial -out "$d/$name.pem" \
    -days 2 -extfile "$d/$ext.ext" 2>/dev/null
done
openssl req -x509 $ec -keyout "$d/rogue.key" -out "$d/rogue.pem" -days 2 -subj /CN=arbor-rogue-client \
  -addext extendedKeyUsage=clientAuth 2>/dev/null
