#!/usr/bin/env python3
"""An HTTPS server on 127.0.0.1 that asks every client for a certificate from a test CA (browser scenarios).

Usage: tls_client_auth_server.py PORT CERT KEY CA_CERT LOG

Each connection's TLS handshake runs in a thread of its own, off the accept loop: a browser's handshake waits
while its user (or the test) answers the token's PIN prompt, and other connections (the browser's own
speculative ones) must not queue behind it. The client certificate is optional at the TLS layer, so a browser
without one still gets a page that says so. Every request appends one JSON line to LOG: the client
certificate's subject and serial (or null), and the path.
"""
import json
import socket
import ssl
import sys
import threading

port, cert, key, ca, log_path = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5]
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain(cert, key)
ctx.load_verify_locations(ca)
ctx.verify_mode = ssl.CERT_OPTIONAL
log_lock = threading.Lock()


def subject_cn(peer):
    for rdn in peer.get("subject", ()):
        for k, v in rdn:
            if k == "commonName":
                return v
    return None


def serve(raw):
    try:
        raw.settimeout(300)
        conn = ctx.wrap_socket(raw, server_side=True)
    except (ssl.SSLError, OSError) as e:
        with log_lock, open(log_path, "a") as f:
            f.write(json.dumps({"event": "handshake-failed", "error": str(e)}) + "\n")
        raw.close()
        return
    try:
        request = b""
        while b"\r\n\r\n" not in request and len(request) < 65536:
            chunk = conn.recv(4096)
            if not chunk:
                break
            request += chunk
        line = request.split(b"\r\n", 1)[0].decode("latin-1")
        path = line.split(" ")[1] if line.count(" ") >= 2 else ""
        peer = conn.getpeercert()
        cn = subject_cn(peer) if peer else None
        entry = {"event": "request", "path": path, "client_cn": cn,
                 "client_serial": peer.get("serialNumber") if peer else None, "tls": conn.version()}
        with log_lock, open(log_path, "a") as f:
            f.write(json.dumps(entry) + "\n")
        if cn:
            body = f"<html><head><title>client certificate: {cn}</title></head><body style='font: 24px sans-serif'>" \
                   f"<h1 id='result'>client certificate: {cn}</h1><p>serial {entry['client_serial']}, " \
                   f"{entry['tls']}</p><p>The private key stayed on the keyseal token.</p></body></html>"
        else:
            body = "<html><head><title>no client certificate</title></head><body style='font: 24px sans-serif'>" \
                   "<h1 id='result'>no client certificate</h1></body></html>"
        data = body.encode()
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\nConnection: close\r\n"
                     b"Content-Length: " + str(len(data)).encode() + b"\r\n\r\n" + data)
    except (ssl.SSLError, OSError):
        pass
    finally:
        try:
            conn.close()
        except OSError:
            pass


srv = socket.create_server(("127.0.0.1", port))
print(f"listening on 127.0.0.1:{port}", flush=True)
while True:
    c, _ = srv.accept()
    threading.Thread(target=serve, args=(c,), daemon=True).start()
