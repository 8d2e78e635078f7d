# Shared by the browser scenarios (firefox.sh, chromium.sh; issue 13), sourced after lib.sh and ix_init: the
# test CA, the server certificate and the token's client certificate; the HTTPS server that asks for a client
# certificate (tls_client_auth_server.py); and the checks of what that server saw. $CN is the client
# certificate's common name (set by the scenario).

# tb_keys_and_certs: a test CA and the server's certificate (software); the client's key pair on the token, its
# request signed there (certtool through the module), its certificate issued by the CA and stored beside the
# key (same CKA_ID, as NSS pairs them).
tb_keys_and_certs() {
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=keyseal test CA" -days 2 \
    -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign \
    -keyout "$W/ca.key" -out "$W/ca.pem"
  openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=localhost" \
    -keyout "$W/server.key" -out "$W/server.csr"
  printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n' > "$W/server.ext"
  openssl x509 -req -in "$W/server.csr" -CA "$W/ca.pem" -CAkey "$W/ca.key" -CAcreateserial -days 2 \
    -extfile "$W/server.ext" -out "$W/server.pem"
  ix_keygen EC:prime256v1 01 "$CN"
  printf 'cn = "%s"\ntls_www_client\nsigning_key\n' "$CN" > "$W/client.tmpl"
  GNUTLS_PIN=$IX_PIN certtool --provider "$MODULE" --generate-request --template "$W/client.tmpl" \
    --load-privkey "$TOKEN_URI;id=%01;type=private" --load-pubkey "$TOKEN_URI;id=%01;type=public" \
    --outfile "$W/client.csr"
  printf 'extendedKeyUsage=clientAuth\nkeyUsage=critical,digitalSignature\n' > "$W/client.ext"
  openssl x509 -req -in "$W/client.csr" -CA "$W/ca.pem" -CAkey "$W/ca.key" -CAcreateserial -days 2 \
    -extfile "$W/client.ext" -out "$W/client.pem"
  openssl x509 -in "$W/client.pem" -noout -serial | sed 's/^serial=//' > "$W/client.serial"
  openssl x509 -in "$W/client.pem" -outform DER -out "$W/client.der"
  "${P11[@]}" "${TOK[@]}" "${LOGIN[@]}" --write-object "$W/client.der" --type cert --id 01 --label "$CN"
  # The key the server will see is sensitive and was never extractable.
  "${P11[@]}" "${TOK[@]}" "${LOGIN[@]}" --list-objects --type privkey | tee "$W/privkey.list"
  grep -q "Access:.*sensitive.*never extractable" "$W/privkey.list"
}

# tb_start_server: the HTTPS server on 127.0.0.1 (a free port, in $SERVER_PORT), logging to $W/server.log.
tb_start_server() {
  SERVER_PORT=$(ix_free_port)
  : > "$W/server.log"
  ix_spawn python3 "$HERE/tls_client_auth_server.py" "$SERVER_PORT" "$W/server.pem" "$W/server.key" "$W/ca.pem" \
    "$W/server.log"
  ix_wait_port "$SERVER_PORT"
}

# tb_server_saw_client_cert: every request the server logged came with the token's certificate ($CN, the
# serial the CA gave it), and there was at least one.
tb_server_saw_client_cert() {
  python3 - "$W/server.log" "$CN" "$(cat "$W/client.serial")" <<'PY'
import json, sys
log, cn, serial = sys.argv[1], sys.argv[2], sys.argv[3]
entries = [json.loads(l) for l in open(log) if l.strip()]
seen = [e for e in entries if e.get("event") == "request" and e.get("client_cn")]
assert seen, "the server saw no client certificate: %r" % entries
assert all(e["client_cn"] == cn for e in seen), seen
assert all(e["client_serial"].upper().lstrip("0") == serial.upper().lstrip("0") for e in seen), (seen, serial)
print("the server saw CN=%s serial %s over %s" % (cn, serial, seen[0]["tls"]))
PY
}

# tb_server_saw_no_client_cert: no request the server logged came with a certificate.
tb_server_saw_no_client_cert() {
  python3 - "$W/server.log" <<'PY'
import json, sys
entries = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
assert not [e for e in entries if e.get("client_cn")], "a certificate was sent after a wrong PIN: %r" % entries
print("no certificate reached the server (%d requests)" % len([e for e in entries if e.get("event") == "request"]))
PY
}
