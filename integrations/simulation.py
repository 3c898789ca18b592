"""The machinery the HTTP simulators of external systems share (tests and demo, 127.0.0.1).

- `SimulatorHTTPServer`: a threading HTTP server around a simulator, with `start` (serve in a
  background thread), `stop` and `url`; its request handler hands every request to
  `simulator.handle(method, target, headers, body)`, which answers
  `(status, headers, content bytes, delay seconds)`: the answer is held back `delay`
  seconds (a simulated timeout) and a client that gave up meanwhile is no error.
- `FailureSwitchboard`: failure switches queued in the order set ("after K more requests,
  the next N requests suffer mode M"), one at a time.
- `JSONSimulator`: the base of a JSON API simulator with a lock, a request log, a
  switchboard (`fail`, `clear_failures`; `POST /_sim/fail` and `POST /_sim/clear`) and
  the modes every such simulator has: `timeout` (answer `delay` seconds late) and
  `malformed` (send the first half of a 200 answer).
- `arguments` and `serve`: the `python -m …simulator` entry points.
"""

from __future__ import annotations

import argparse
import json
import threading
import time
from collections.abc import Iterable
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import SplitResult, urlsplit

Headers = list[tuple[str, str]]
Answer = tuple[int, Headers, bytes]  # status, headers, content
Response = tuple[int, Headers, bytes, float]  # … and how long to hold it back


class FailureSwitchboard:
    """Failure switches: `fail(mode, count, after=K)` makes the next `count` requests after
    K more suffer `mode`; switches act one at a time, in the order set."""

    def __init__(self, modes: Iterable[str], lock: threading.Lock | None = None):
        self.modes = tuple(modes)
        self.lock = lock or threading.Lock()
        self.failures: list[tuple[str, int, int]] = []  # (mode, after, count)

    def fail(self, mode: str, count: int = 1, *, after: int = 0) -> None:
        if mode not in self.modes:
            raise ValueError(f"mode must be one of {', '.join(self.modes)}, not {mode!r}")
        with self.lock:
            self.failures.append((mode, after, count))

    def clear(self) -> None:
        with self.lock:
            self.failures.clear()

    def next(self) -> str | None:
        """The failure this request suffers, if any (and count it)."""
        with self.lock:
            if not self.failures:
                return None
            mode, after, count = self.failures[0]
            if after > 0:
                self.failures[0] = (mode, after - 1, count)
                return None
            if count <= 1:
                self.failures.pop(0)
            else:
                self.failures[0] = (mode, 0, count - 1)
            return mode


class JSONSimulator:
    """A JSON API simulator: subclasses set `MODES` and implement `_route` (and may add
    `_misbehave` for their own modes and `_control_extra` for their own `/_sim/` routes)."""

    MODES: tuple[str, ...] = ("timeout", "malformed")

    def __init__(self, *, delay: float = 1.0):
        self.delay = delay
        self.lock = threading.Lock()
        self.switchboard = FailureSwitchboard(self.MODES, self.lock)
        self.log: list[tuple[str, str, int]] = []  # (method, target, status)

    @property
    def failures(self) -> list[tuple[str, int, int]]:
        return self.switchboard.failures

    def fail(self, mode: str, count: int = 1, *, after: int = 0) -> None:
        """After `after` more requests, misbehave on the next `count` (see the module doc)."""
        self.switchboard.fail(mode, count, after=after)

    def clear_failures(self) -> None:
        self.switchboard.clear()

    def _failure(self) -> str | None:
        return self.switchboard.next()

    @staticmethod
    def _reply(status: int, payload: Any, headers: Headers | None = None) -> Answer:
        return status, headers or [], json.dumps(payload).encode()

    # --- HTTP ------------------------------------------------------------------------------
    def handle(self, method: str, target: str, headers: dict[str, str], body: bytes) -> Response:
        """(status, headers, content, delay seconds) for one request; logs it."""
        url = urlsplit(target)
        if url.path.startswith("/_sim/"):
            response = (*self._control(method, url.path, body), 0.0)
        else:
            response = self._answer(method, url, headers, body)
        with self.lock:
            self.log.append((method, target, response[0]))
        return response

    def _answer(self, method: str, url: SplitResult, headers: dict[str, str], body: bytes):
        mode = self._failure()
        refusal = self._misbehave(mode) if mode else None
        if refusal is not None:
            return (*refusal, 0.0)
        status, headers_out, content = self._route(method, url, headers, body)
        if mode == "malformed" and status == 200:
            content = content[: len(content) // 2] or b"{"
        return status, headers_out, content, (self.delay if mode == "timeout" else 0.0)

    def _misbehave(self, mode: str) -> Answer | None:
        """Act out `mode` before the request is routed; an answer replaces the real one."""
        return None

    def _route(self, method: str, url: SplitResult, headers: dict[str, str], body: bytes) -> Answer:
        raise NotImplementedError

    def _control(self, method: str, path: str, body: bytes) -> Answer:
        if method == "POST" and path == "/_sim/fail":
            try:
                data = json.loads(body or b"{}")
                self.fail(data["mode"], int(data.get("count", 1)), after=int(data.get("after", 0)))
            except (ValueError, KeyError, TypeError) as exc:
                return self._reply(400, {"error": f"bad failure request: {exc}"})
            return self._reply(200, {"failures": self.failures})
        if method == "POST" and path == "/_sim/clear":
            self.clear_failures()
            return self._reply(200, {"failures": []})
        answer = self._control_extra(method, path, body)
        return answer or self._reply(404, {"error": f"no route {method} {path}"})

    def _control_extra(self, method: str, path: str, body: bytes) -> Answer | None:
        return None


class _RequestHandler(BaseHTTPRequestHandler):
    """Hands each request to the server's simulator and writes its answer."""

    server: SimulatorHTTPServer
    protocol_version = "HTTP/1.1"

    def _serve(self) -> None:
        if self.command not in self.server.methods:
            self.send_error(HTTPStatus.NOT_IMPLEMENTED, f"Unsupported method ({self.command!r})")
            return
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        headers = {key.lower(): value for key, value in self.headers.items()}
        status, extra, content, delay = self.server.simulator.handle(
            self.command, self.path, headers, body
        )
        if delay:
            time.sleep(delay)
        try:
            self.send_response(status)
            if content:
                self.send_header("Content-Type", "application/json")
            for name, value in extra:
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(content)))
            self.end_headers()
            self.wfile.write(content)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up waiting (a simulated timeout)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _serve

    def log_message(self, format: str, *args: Any) -> None:
        if self.server.verbose:
            super().log_message(format, *args)


class SimulatorHTTPServer(ThreadingHTTPServer):
    """A simulator behind an HTTP server on 127.0.0.1 (port 0: any free port)."""

    daemon_threads = True
    methods: tuple[str, ...] = ("GET", "POST", "PUT", "PATCH", "DELETE")  # others: 501
    thread_name = "simulator"

    def __init__(self, simulator: Any, *, host: str = "127.0.0.1", port: int = 0, verbose=False):
        super().__init__((host, port), _RequestHandler)
        self.simulator, self.verbose = simulator, verbose
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        """The base URL the simulator answers on."""
        host, port = self.server_address[:2]
        return f"http://{host}:{port}"

    def start(self):
        """Serve in a background thread."""
        self._thread = threading.Thread(
            target=self.serve_forever, name=self.thread_name, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and close the socket."""
        if self._thread is not None:
            self.shutdown()
            self._thread.join(timeout=5)
            self._thread = None
        self.server_close()


def arguments(description: str, *, port: int) -> argparse.ArgumentParser:
    """The options every `python -m …simulator` takes: --port, --host, --seed, --verbose."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--port", type=int, default=port)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--seed", help="GeoJSON file of address features")
    parser.add_argument("--verbose", action="store_true")
    return parser


def serve(server: SimulatorHTTPServer, banner: str) -> None:
    """Print `banner` and serve in the foreground until interrupted."""
    print(banner, flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
