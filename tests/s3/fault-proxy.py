#!/usr/bin/env python3
"""A fault-injecting HTTP proxy on loopback, in front of the test S3 server.

It forwards each request unchanged (the Host header too, so SigV4 signatures stay valid) and
relays the answer, except where a fault rule matches. Rules are added while it runs:

  GET /__fault/add?kind=K[&count=N][&seconds=S][&match=TEXT][&status=CODE][&code=S3CODE]
      kind  503      answer with an S3 error (status, default 503; code, default SlowDown)
            500      the same with status 500, code InternalError
            drop     read the request, then close the connection without an answer
            corrupt  forward, but flip one byte of the request body (PUT/POST) or of the
                     answer body (GET)
            stall    wait S seconds (default 5) before forwarding
            refuse   close the connection at once (before reading the request)
      count: how many requests it applies to (default 1); seconds: or for how long from now
      (count is then unlimited); match: only requests whose "METHOD path?query" contains TEXT
  GET /__fault/clear   drop all rules
  GET /__fault/stats   JSON: {"requests": N, "forwarded": N, "injected": {kind: N}, "log": [...],
                       "bytes_out": N} where log lists "METHOD path?query -> STATUS|kind" per
                       request and bytes_out counts the answer bodies relayed
  GET /__fault/reset   clear rules, counters and log

Usage: fault-proxy.py --listen PORT --upstream HOST:PORT
"""
import argparse
import http.client
import json
import socket
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

HOP = {"connection", "keep-alive", "proxy-connection", "transfer-encoding", "te", "trailer",
       "upgrade", "expect"}

lock = threading.Lock()
rules = []          # dicts: kind, count, until, match, status, code, seconds
stats = {"requests": 0, "forwarded": 0, "injected": {}, "log": [], "bytes_out": 0}
upstream = ("127.0.0.1", 0)


def take_rule(line):
    """The first rule that applies to this request, consumed (count) — or None."""
    now = time.monotonic()
    with lock:
        for r in list(rules):
            if r["until"] is not None and now > r["until"]:
                rules.remove(r)
                continue
            if r["match"] and r["match"] not in line:
                continue
            if r["until"] is None:
                r["count"] -= 1
                if r["count"] <= 0:
                    rules.remove(r)
            stats["injected"][r["kind"]] = stats["injected"].get(r["kind"], 0) + 1
            return dict(r)
    return None


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def control(self):
        u = urllib.parse.urlsplit(self.path)
        q = dict(urllib.parse.parse_qsl(u.query))
        what = u.path[len("/__fault/"):]
        body = b"ok\n"
        with lock:
            if what == "add":
                seconds = float(q["seconds"]) if "seconds" in q and q.get("kind") != "stall" else None
                kind = q.get("kind", "503")
                rules.append({
                    "kind": kind,
                    "count": int(q.get("count", "1")),
                    "until": time.monotonic() + seconds if seconds is not None else None,
                    "match": q.get("match", ""),
                    "status": int(q.get("status", "500" if kind == "500" else "503")),
                    "code": q.get("code", "InternalError" if kind == "500" else "SlowDown"),
                    "seconds": float(q.get("seconds", "5")),
                })
            elif what == "clear":
                rules.clear()
            elif what == "reset":
                rules.clear()
                stats.update({"requests": 0, "forwarded": 0, "injected": {}, "log": [],
                              "bytes_out": 0})
            elif what == "stats":
                body = json.dumps(stats).encode()
            else:
                self.send_response(404)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def read_body(self):
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n else b""

    def note(self, line, what):
        with lock:
            stats["log"].append(f"{line} -> {what}")
            if len(stats["log"]) > 5000:
                del stats["log"][:1000]

    def handle_one(self):
        if self.path.startswith("/__fault/"):
            return self.control()
        line = f"{self.command} {self.path}"
        with lock:
            stats["requests"] += 1
        rule = take_rule(line)
        kind = rule["kind"] if rule else None
        if kind == "refuse":
            self.note(line, "refuse")
            self.close_connection = True
            try:
                self.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            return
        body = self.read_body()
        if kind == "drop":
            self.note(line, "drop")
            self.close_connection = True
            try:
                self.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            return
        if kind in ("503", "500"):
            xml = (f'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>{rule["code"]}</Code>'
                   f'<Message>injected by the test proxy</Message></Error>').encode()
            self.note(line, f"{rule['status']}|{kind}")
            self.send_response(rule["status"])
            self.send_header("Content-Type", "application/xml")
            self.send_header("Content-Length", str(len(xml) if self.command != "HEAD" else 0))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(xml)
            return
        if kind == "stall":
            time.sleep(rule["seconds"])
        if kind == "corrupt" and body:
            body = bytes([body[0] ^ 0xFF]) + body[1:] if len(body) == 1 else \
                body[:len(body) // 2] + bytes([body[len(body) // 2] ^ 0xFF]) + body[len(body) // 2 + 1:]
        conn = http.client.HTTPConnection(*upstream, timeout=120)
        try:
            conn.putrequest(self.command, self.path, skip_host=True, skip_accept_encoding=True)
            for k, v in self.headers.items():
                if k.lower() not in HOP:
                    conn.putheader(k, v)
            if "content-length" not in {k.lower() for k in self.headers.keys()} and body:
                conn.putheader("Content-Length", str(len(body)))
            conn.endheaders(body if body else None)
            resp = conn.getresponse()
            data = resp.read()
            status = resp.status
            headers = [(k, v) for k, v in resp.getheaders() if k.lower() not in HOP]
        except (OSError, http.client.HTTPException) as e:
            self.note(line, f"upstream-error {e}")
            self.close_connection = True
            try:
                self.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            return
        finally:
            conn.close()
        if kind == "corrupt" and self.command == "GET" and data:
            i = len(data) // 2
            data = data[:i] + bytes([data[i] ^ 0xFF]) + data[i + 1:]
        with lock:
            stats["forwarded"] += 1
            if self.command != "HEAD":
                stats["bytes_out"] += len(data)
        self.note(line, f"{status}{'|' + kind if kind else ''}")
        self.send_response(status)
        for k, v in headers:
            if k.lower() not in ("content-length", "date", "server"):
                self.send_header(k, v)
        if self.command == "HEAD":
            cl = resp.getheader("Content-Length")
            self.send_header("Content-Length", cl if cl is not None else "0")
        else:
            self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = handle_one


def main():
    global upstream
    ap = argparse.ArgumentParser()
    ap.add_argument("--listen", type=int, required=True)
    ap.add_argument("--upstream", required=True)
    a = ap.parse_args()
    host, port = a.upstream.rsplit(":", 1)
    upstream = (host, int(port))
    ThreadingHTTPServer.daemon_threads = True
    ThreadingHTTPServer.allow_reuse_address = True
    srv = ThreadingHTTPServer(("127.0.0.1", a.listen), Handler)
    srv.serve_forever()


if __name__ == "__main__":
    main()
