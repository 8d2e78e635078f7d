#!/usr/bin/env python3
"""Drives a Chromium started with --remote-debugging-port under an X server (Xvfb) through the DevTools protocol
(no chromedriver in Debian 12): opens a URL, answers the token's PIN dialog with xdotool, saves a screenshot and
reports what the page and the dialogs were.

Usage: devtools_tls.py PORT ANSWERS URL SCREENSHOT.png REPORT.json XVFB_SCREEN

ANSWERS: what to do at each PIN dialog in turn, comma-separated: a PIN to type and accept, or "cancel"; a
dialog beyond the list is cancelled. Chromium asks for an NSS token's password in a window of its own (a
views dialog, not part of the page), which no DevTools command reaches; so this script watches the X server
for that window (xdotool search by its title), gives it the keyboard focus and types into it with XTEST.
Each dialog is saved as SCREENSHOT-dialogN.png before it is answered (cut out of XVFB_SCREEN, the XWD file
of `Xvfb -fbdir`): the test keeps a picture of what it typed into.

DevTools: GET /json/list names the page's WebSocket; a command is {"id", "method", "params"} and its answer
{"id", "result"} or {"id", "error"}; events have a "method" and no "id". The WebSocket client here is the
minimum RFC 6455 asks of a client: masked text frames out, unmasked frames in (fragments joined, pings
answered).
"""
import base64
import json
import os
import socket
import struct
import subprocess
import sys
import time
import urllib.request
import zlib

# The title of Chromium's NSS password dialog in English (chromium.sh starts it with --lang=en-US).
DIALOG_TITLE = os.environ.get("IX_CHROMIUM_DIALOG", "Unlock Security Device")


class WebSocket:
    def __init__(self, url, timeout):
        assert url.startswith("ws://")
        hostport, path = url[len("ws://"):].split("/", 1)
        host, port = hostport.rsplit(":", 1)
        self.sock = socket.create_connection((host, int(port)), timeout=timeout)
        key = base64.b64encode(os.urandom(16)).decode()
        self.sock.sendall((f"GET /{path} HTTP/1.1\r\nHost: {hostport}\r\nUpgrade: websocket\r\n"
                           f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n")
                          .encode())
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = self.sock.recv(4096)
            if not chunk:
                raise RuntimeError("DevTools closed the WebSocket handshake")
            head += chunk
        head, self.buf = head.split(b"\r\n\r\n", 1)
        if not head.startswith(b"HTTP/1.1 101"):
            raise RuntimeError("WebSocket handshake refused: %r" % head.split(b"\r\n")[0])

    def send(self, text):
        data = text.encode()
        mask = os.urandom(4)
        n = len(data)
        if n < 126:
            hdr = struct.pack("!BB", 0x81, 0x80 | n)
        elif n < 65536:
            hdr = struct.pack("!BBH", 0x81, 0x80 | 126, n)
        else:
            hdr = struct.pack("!BBQ", 0x81, 0x80 | 127, n)
        self.sock.sendall(hdr + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(data)))

    def _take(self, n):
        while len(self.buf) < n:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise RuntimeError("DevTools closed the WebSocket")
            self.buf += chunk
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def recv(self):
        """The next text message; socket.timeout when none arrives in time (only before a frame starts)."""
        message = b""
        while True:
            if not self.buf:
                chunk = self.sock.recv(65536)
                if not chunk:
                    raise RuntimeError("DevTools closed the WebSocket")
                self.buf += chunk
            b0, b1 = self._take(2)
            n = b1 & 0x7F
            if n == 126:
                n = struct.unpack("!H", self._take(2))[0]
            elif n == 127:
                n = struct.unpack("!Q", self._take(8))[0]
            mask = self._take(4) if b1 & 0x80 else None
            payload = self._take(n)
            if mask:
                payload = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
            opcode = b0 & 0x0F
            if opcode == 0x8:
                raise RuntimeError("DevTools closed the WebSocket")
            if opcode == 0x9:  # ping: a pong with the same payload (client frames are masked)
                m = os.urandom(4)
                self.sock.sendall(struct.pack("!BB", 0x8A, 0x80 | len(payload)) + m +
                                  bytes(b ^ m[i % 4] for i, b in enumerate(payload)))
                continue
            if opcode in (0x0, 0x1, 0x2):
                message += payload
                if b0 & 0x80:
                    return message.decode()


class DevTools:
    def __init__(self, port, timeout=120):
        deadline = time.time() + timeout
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=5) as r:
                    targets = json.load(r)
                pages = [t for t in targets if t.get("type") == "page" and t.get("webSocketDebuggerUrl")]
                if pages:
                    break
            except OSError:
                pass
            if time.time() > deadline:
                raise RuntimeError("no DevTools page target on port %d" % port)
            time.sleep(0.5)
        self.ws = WebSocket(pages[0]["webSocketDebuggerUrl"], timeout)
        self.next_id = 1
        self.events = []
        self.replies = {}  # id -> answer, for commands sent without waiting (send)

    def send(self, method, params=None):
        mid = self.next_id
        self.next_id += 1
        self.ws.send(json.dumps({"id": mid, "method": method, "params": params or {}}))
        return mid

    def wait(self, mid, timeout=60):
        self.ws.sock.settimeout(timeout)
        while True:
            msg = json.loads(self.ws.recv())
            if msg.get("id") == mid:
                if "error" in msg:
                    raise RuntimeError(f"DevTools: {msg['error']}")
                return msg.get("result", {})
            self._keep(msg)

    def call(self, method, params=None, timeout=60):
        return self.wait(self.send(method, params), timeout)

    def _keep(self, msg):
        if "method" in msg:
            self.events.append(msg)
        elif "id" in msg:
            self.replies[msg["id"]] = msg

    def poll(self, seconds):
        """Keeps the events and answers that arrive within SECONDS."""
        self.ws.sock.settimeout(seconds)
        try:
            while True:
                self._keep(json.loads(self.ws.recv()))
        except socket.timeout:
            pass


def xdotool(*args):
    r = subprocess.run(["xdotool", *args], capture_output=True, text=True, timeout=30)
    return r.returncode, r.stdout.strip()


def visible_dialogs():
    rc, out = xdotool("search", "--onlyvisible", "--name", "^" + DIALOG_TITLE + "$")
    return out.split() if rc == 0 else []


def all_window_names():
    rc, out = xdotool("search", "--onlyvisible", "--name", ".")
    names = []
    for w in out.split():
        _, name = xdotool("getwindowname", w)
        names.append(name)
    return names


def screen_png(fb, geometry, out):
    """Crops GEOMETRY (x, y, width, height) out of Xvfb's screen (FB: the XWD file Xvfb -fbdir keeps current)
    and writes it as a PNG."""
    with open(fb, "rb") as f:
        data = f.read()
    h = struct.unpack(">25I", data[:100])
    header_size, depth, width, height, byte_order = h[0], h[3], h[4], h[5], h[7]
    bpp, bytes_per_line, masks, ncolors = h[11], h[12], h[14:17], h[19]
    if bpp != 32 or depth != 24:
        raise RuntimeError(f"Xvfb screen of depth {depth}, {bpp} bits a pixel: run it with -screen 0 WxHx24")
    pixels = header_size + 12 * ncolors
    x, y, w, hgt = geometry
    x, y = max(0, x), max(0, y)
    w, hgt = min(w, width - x), min(hgt, height - y)
    order = "<" if byte_order == 0 else ">"
    shifts = [(m, (m & -m).bit_length() - 1) for m in masks]
    rows = []
    for row in range(y, y + hgt):
        line = data[pixels + row * bytes_per_line + 4 * x:pixels + row * bytes_per_line + 4 * (x + w)]
        out_row = bytearray(b"\0")  # filter type None
        for (p,) in struct.iter_unpack(order + "I", line):
            out_row += bytes((p & m) >> s for m, s in shifts)
        rows.append(bytes(out_row))

    def chunk(kind, body):
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    with open(out, "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, hgt, 8, 2, 0, 0, 0)) +
                chunk(b"IDAT", zlib.compress(b"".join(rows))) + chunk(b"IEND", b""))


def window_geometry(win):
    _, out = xdotool("getwindowgeometry", "--shell", win)
    g = dict(line.split("=", 1) for line in out.splitlines() if "=" in line)
    return int(g["X"]), int(g["Y"]), int(g["WIDTH"]), int(g["HEIGHT"])


def answer_dialog(win, answer, fb, dump):
    # The dialog's text is drawn by Chromium (no toolkit to ask for it): a picture of the window is the record.
    time.sleep(0.5)  # drawn by now
    screen_png(fb, window_geometry(win), dump)
    xdotool("windowfocus", "--sync", win)
    time.sleep(0.3)  # the password field takes the focus when the dialog has it
    if answer == "cancel":
        xdotool("key", "--clearmodifiers", "Escape")
    else:
        xdotool("type", "--delay", "20", answer)
        xdotool("key", "--clearmodifiers", "Return")
    # The same window must go away before the next dialog is looked for.
    deadline = time.time() + 30
    while win in visible_dialogs() and time.time() < deadline:
        time.sleep(0.2)


PAGE_STATE = ("JSON.stringify({ready: document.readyState, url: document.location.href, title: document.title,"
              " text: document.body ? document.body.innerText : ''})")


def main():
    port, answers, url, shot, report_path, fb = sys.argv[1:7]
    answers = answers.split(",") if answers else []
    d = DevTools(int(port))
    d.call("Page.enable")
    report = {"url": url, "prompts": 0, "dialogs": [], "windows_seen": []}
    nav = d.send("Page.navigate", {"url": url})
    # Page.navigate answers only once the navigation commits, which waits for the TLS handshake and so for the
    # PIN dialog: watch the X server meanwhile, then (the page's renderer answers nothing before the commit)
    # for the page to finish loading.
    state = {}
    deadline = time.time() + 120
    answered = set()
    while time.time() < deadline:
        for win in visible_dialogs():
            if win in answered:
                continue
            n = report["prompts"]
            answer = answers[n] if n < len(answers) else "cancel"
            dump = os.path.splitext(shot)[0] + f"-dialog{n + 1}.png"
            report["dialogs"].append({"window": win, "answer": "cancel" if answer == "cancel" else "pin",
                                      "dump": dump})
            report["prompts"] += 1
            answered.add(win)
            answer_dialog(win, answer, fb, dump)
        for name in all_window_names():
            if name not in report["windows_seen"]:
                report["windows_seen"].append(name)
        d.poll(0.5)
        if nav not in d.replies:
            continue
        report["navigate"] = d.replies[nav].get("result", d.replies[nav].get("error"))
        try:
            state = json.loads(d.call("Runtime.evaluate", {"expression": PAGE_STATE, "returnByValue": True},
                                      timeout=5)["result"]["value"])
        except (RuntimeError, socket.timeout, KeyError) as e:
            report.setdefault("evaluate_errors", []).append(repr(e)[:200])
            continue
        if state.get("ready") == "complete" and state.get("url", "").startswith(url.rstrip("/")) \
                and not visible_dialogs():
            break
    report["loaded_url"] = state.get("url")
    report["title"] = state.get("title")
    report["text"] = state.get("text") or ""
    png = base64.b64decode(d.call("Page.captureScreenshot", {"format": "png"})["data"])
    with open(shot, "wb") as f:
        f.write(png)
    report["screenshot_bytes"] = len(png)
    with open(report_path, "w") as f:
        json.dump(report, f, indent=1)
    print(json.dumps(report, indent=1))
    try:
        d.send("Browser.close")
    except OSError:
        pass


if __name__ == "__main__":
    main()
