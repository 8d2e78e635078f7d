#!/usr/bin/env python3
"""Drives a Firefox started with --marionette through its own remote protocol (no geckodriver in Debian 12):
answers the token's PIN prompt, opens a URL, saves a screenshot and reports what the page and the prompts were.

Usage: marionette_tls.py PORT ANSWERS URL SCREENSHOT.png REPORT.json

ANSWERS: what to do at each PIN prompt in turn, comma-separated: a PIN to type and accept, or "cancel"; a
prompt beyond the list is cancelled. The answering observer is registered (privileged, in the chrome context)
before the navigation: the prompt is modal and blocks WebDriver's alert commands while it is open.

Marionette's protocol: each message is "LENGTH:JSON"; the server speaks first ({"marionetteProtocol": 3});
a command is [0, id, name, params] and its answer [1, id, error, result].
"""
import base64
import json
import socket
import sys
import time


class Marionette:
    def __init__(self, port, timeout=120):
        deadline = time.time() + timeout
        while True:
            try:
                self.sock = socket.create_connection(("127.0.0.1", port), timeout=10)
                break
            except OSError:
                if time.time() > deadline:
                    raise
                time.sleep(0.5)
        self.sock.settimeout(timeout)
        self.buf = b""
        self.next_id = 1
        hello = self._read()
        if hello.get("marionetteProtocol") != 3:
            raise RuntimeError(f"unexpected Marionette hello: {hello}")

    def _read(self):
        while b":" not in self.buf:
            self._fill()
        n, rest = self.buf.split(b":", 1)
        n = int(n)
        while len(rest) < n:
            self.buf = rest
            self._fill()
            rest = self.buf
        msg, self.buf = rest[:n], rest[n:]
        return json.loads(msg)

    def _fill(self):
        chunk = self.sock.recv(65536)
        if not chunk:
            raise RuntimeError("Marionette closed the connection")
        self.buf += chunk

    def call(self, name, params=None):
        mid = self.next_id
        self.next_id += 1
        data = json.dumps([0, mid, name, params or {}]).encode()
        self.sock.sendall(str(len(data)).encode() + b":" + data)
        while True:
            msg = self._read()
            if msg[0] == 1 and msg[1] == mid:
                if msg[2]:
                    raise RuntimeError(f"{name}: {msg[2].get('error')}: {msg[2].get('message')}")
                return msg[3]


# Privileged: answers the PIN prompts (Firefox's common dialog for a token password) in the given order and
# keeps a record of them in prefs the test reads back.
ANSWER_PROMPTS = r"""
const answers = arguments[0];
Services.prefs.setIntPref("keyseal.test.prompts", 0);
Services.prefs.setStringPref("keyseal.test.prompt_texts", "[]");
const observer = {
  observe(subject, topic) {
    const win = subject;
    const doc = win.document;
    const dialog = doc.getElementById("commonDialog");
    const pw = doc.getElementById("password1Textbox");
    const n = Services.prefs.getIntPref("keyseal.test.prompts");
    Services.prefs.setIntPref("keyseal.test.prompts", n + 1);
    const texts = JSON.parse(Services.prefs.getStringPref("keyseal.test.prompt_texts"));
    const info = doc.getElementById("infoBody");
    texts.push({ topic, text: info ? info.textContent : "", password_field: !!(pw && !pw.hidden) });
    Services.prefs.setStringPref("keyseal.test.prompt_texts", JSON.stringify(texts));
    const answer = n < answers.length ? answers[n] : "cancel";
    win.setTimeout(() => {
      if (answer === "cancel" || !pw) {
        dialog.cancelDialog();
      } else {
        pw.value = answer;
        dialog.acceptDialog();
      }
    }, 0);
  },
};
Services.obs.addObserver(observer, "common-dialog-loaded");
return true;
"""

READ_PROMPTS = r"""
return { prompts: Services.prefs.getIntPref("keyseal.test.prompts", 0),
         texts: JSON.parse(Services.prefs.getStringPref("keyseal.test.prompt_texts", "[]")) };
"""


PAGE_STATE = r"""
return { ready: document.readyState, url: document.location.href, title: document.title,
         text: document.body ? document.body.innerText : "" };
"""


def main():
    port, answers, url, shot, report_path = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5]
    m = Marionette(port)
    m.call("WebDriver:NewSession", {"capabilities": {"alwaysMatch": {"acceptInsecureCerts": False}}})
    m.call("Marionette:SetContext", {"value": "chrome"})
    m.call("WebDriver:ExecuteScript", {"script": ANSWER_PROMPTS, "args": [answers.split(",") if answers else []]})
    m.call("Marionette:SetContext", {"value": "content"})
    report = {"url": url}
    try:
        m.call("WebDriver:Navigate", {"url": url})
    except RuntimeError as e:  # an error page (e.g. the handshake failed) is still a page to report
        report["navigate_error"] = str(e)
    # WebDriver's navigation returns as soon as a user prompt opens (the PIN prompt), so wait for the page.
    state = {}
    deadline = time.time() + 90
    while time.time() < deadline:
        state = m.call("WebDriver:ExecuteScript", {"script": PAGE_STATE}).get("value") or {}
        if state.get("ready") == "complete" and state.get("url", "").startswith(url.rstrip("/")):
            break
        time.sleep(0.5)
    report["loaded_url"] = state.get("url")
    report["title"] = state.get("title")
    report["text"] = state.get("text") or ""
    png = base64.b64decode(m.call("WebDriver:TakeScreenshot", {"full": False}).get("value"))
    with open(shot, "wb") as f:
        f.write(png)
    report["screenshot_bytes"] = len(png)
    m.call("Marionette:SetContext", {"value": "chrome"})
    report.update(m.call("WebDriver:ExecuteScript", {"script": READ_PROMPTS}).get("value"))
    with open(report_path, "w") as f:
        json.dump(report, f, indent=1)
    print(json.dumps(report, indent=1))
    try:
        m.call("Marionette:Quit", {"flags": ["eForceQuit"]})
    except (RuntimeError, OSError):
        pass


if __name__ == "__main__":
    main()
