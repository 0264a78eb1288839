#!/usr/bin/env python3
"""vpai-stub: a tiny HTTP server that plays services that cannot be packaged
in the offline test image (n8n, LiteLLM, NocoDB, ...). Python stdlib only.

Environment:
  STUB_PORT         port to listen on, on 0.0.0.0 (default 8080)
  STUB_NAME         name echoed in every body and in the X-Stub-Name header
                    (default "vpai-stub")
  STUB_HEALTH_PATH  health path (default /health): 200 "ok NAME"
  STUB_FAIL_HEALTH  "1": the health path answers 500 "failing NAME"
  STUB_ENV_NAMES    comma-separated names reported in the "env" field of the
                    JSON body as true (set) / false (unset); when empty, every
                    variable set in the environment is reported as true.
                    Values are never reported.
  STUB_BEARER_ENV   name of a variable holding a token: every path but the
                    health path then needs "Authorization: Bearer TOKEN", else
                    401 (LiteLLM's master key)
  STUB_MODELS       comma-separated model names: GET /v1/models answers
                    {"object": "list", "data": [{"id": NAME, ...}, ...]}

Any other path, any method: 200 {"service": NAME, "path": PATH, "env": {...}}.
One log line per request on stdout. SIGTERM/SIGINT: exit 0 at once.
"""

import json
import os
import signal
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

PORT = int(os.environ.get("STUB_PORT") or "8080")
NAME = os.environ.get("STUB_NAME") or "vpai-stub"
HEALTH_PATH = os.environ.get("STUB_HEALTH_PATH") or "/health"
FAIL_HEALTH = os.environ.get("STUB_FAIL_HEALTH") == "1"
BEARER_ENV = os.environ.get("STUB_BEARER_ENV") or ""
MODELS = [m.strip() for m in os.environ.get("STUB_MODELS", "").split(",") if m.strip()]


def env_names():
    selected = [n.strip() for n in os.environ.get("STUB_ENV_NAMES", "").split(",") if n.strip()]
    if selected:
        return {n: n in os.environ for n in selected}
    return {n: True for n in sorted(os.environ)}


class Handler(BaseHTTPRequestHandler):
    server_version = "vpai-stub"
    sys_version = ""

    def answer(self, status, body, content_type):
        data = body.encode()
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.send_header("X-Stub-Name", NAME)
        self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def handle_any(self):
        length = int(self.headers.get("Content-Length") or 0)
        if length > 0:
            self.rfile.read(length)
        path = self.path.split("?", 1)[0]
        if path == HEALTH_PATH:
            if FAIL_HEALTH:
                self.answer(500, "failing %s\n" % NAME, "text/plain")
            else:
                self.answer(200, "ok %s\n" % NAME, "text/plain")
            return
        if BEARER_ENV:
            expected = "Bearer " + os.environ.get(BEARER_ENV, "")
            if self.headers.get("Authorization") != expected:
                self.answer(401, "unauthorized %s\n" % NAME, "text/plain")
                return
        if path == "/v1/models" and MODELS:
            data = [{"id": m, "object": "model", "owned_by": NAME} for m in MODELS]
            self.answer(200, json.dumps({"object": "list", "data": data}) + "\n", "application/json")
            return
        body = json.dumps({"service": NAME, "path": self.path, "env": env_names()})
        self.answer(200, body + "\n", "application/json")

    do_GET = do_HEAD = do_POST = do_PUT = do_PATCH = do_DELETE = do_OPTIONS = handle_any

    def log_message(self, fmt, *args):
        sys.stdout.write("%s %s %s\n" % (NAME, self.address_string(), fmt % args))
        sys.stdout.flush()


def stop(signum, _frame):
    sys.stdout.write("%s: signal %d, exiting\n" % (NAME, signum))
    sys.stdout.flush()
    os._exit(0)


def main():
    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    ThreadingHTTPServer.allow_reuse_address = True
    ThreadingHTTPServer.daemon_threads = True
    server = ThreadingHTTPServer(("0.0.0.0", PORT), Handler)
    sys.stdout.write("%s: listening on 0.0.0.0:%d, health %s%s\n"
                     % (NAME, PORT, HEALTH_PATH, " (failing)" if FAIL_HEALTH else ""))
    sys.stdout.flush()
    server.serve_forever()


if __name__ == "__main__":
    main()
