"""An ISP's webhook receiver for the tests: a real HTTP server on 127.0.0.1, in a thread.

It does what docs/webhooks.md asks of a receiver: it checks `X-Oanm-Signature` with
`wholesale.notifications.webhook_signature_valid` and the ISP's secret (401 when it does not
verify), and keeps an idempotency set of `X-Oanm-Delivery` ids, so an event it has already
processed is acknowledged again but processed only once.

Tests tell it how to misbehave:

- `fail_next(n)`: answer 500 to the next n requests (before processing them);
- `sleep_next(n, seconds)`: take `seconds` before answering the next n requests (it
  processes the event, then answers late: a sender that timed out retries a delivery the
  receiver already has);
- `down()` / `up()`: close the port (connection refused) and open it again, same port.

`webhook_receiver_running()` starts one and stops it when the block ends (the tests'
`webhook_receiver` fixture wraps it).
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from wholesale.notifications import (
    DELIVERY_HEADER,
    EVENT_HEADER,
    REPLAY_HEADER,
    SIGNATURE_HEADER,
    webhook_signature_valid,
)

HOST = "127.0.0.1"
PATH = "/oanm/webhooks"


@dataclass
class ReceivedRequest:
    """One request as the receiver saw it, and what it answered."""

    path: str
    headers: dict[str, str]
    body: bytes
    signature_valid: bool
    answered: int = 0
    outcome: str = ""  # processed, duplicate, failing, bad signature, bad body

    @property
    def delivery_id(self) -> str:
        return self.headers.get(DELIVERY_HEADER, "")

    @property
    def event_type(self) -> str:
        return self.headers.get(EVENT_HEADER, "")

    @property
    def is_replay(self) -> bool:
        return self.headers.get(REPLAY_HEADER) == "1"

    @property
    def signature(self) -> str:
        return self.headers.get(SIGNATURE_HEADER, "")

    def json(self) -> dict[str, Any]:
        return json.loads(self.body)


@dataclass
class WebhookReceiver:
    """The receiver's state: its secret, what it got, what it processed, how it misbehaves."""

    secret: str = ""
    port: int = 0
    requests: list[ReceivedRequest] = field(default_factory=list)
    processed: list[str] = field(default_factory=list)  # delivery ids, in processing order
    duplicates: list[str] = field(default_factory=list)  # ids seen again after processing
    failures_left: int = 0
    failure_status: int = 500
    failure_body: str = ""
    slow_left: int = 0
    slow_seconds: float = 0.0
    answer_body: bytes | None = None  # what a 2xx answer says (default: a small JSON)
    _seen: set[str] = field(default_factory=set)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _stopping: threading.Event = field(default_factory=threading.Event)
    _server: ThreadingHTTPServer | None = None
    _thread: threading.Thread | None = None

    # --- what tests call ------------------------------------------------------------------

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}{PATH}"

    def fail_next(self, count: int, *, status: int = 500, body: str = "") -> None:
        """Answer `status` (500) to the next `count` requests, without processing them."""
        with self._lock:
            self.failures_left = count
            self.failure_status = status
            self.failure_body = body

    def sleep_next(self, count: int, seconds: float) -> None:
        """Process the next `count` requests, but answer each only after `seconds`."""
        with self._lock:
            self.slow_left = count
            self.slow_seconds = seconds

    def processed_counts(self) -> Counter:
        """How often each delivery id passed the idempotency check (processed)."""
        with self._lock:
            return Counter(self.processed)

    def wait_for_requests(self, count: int, *, timeout: float = 10) -> list[ReceivedRequest]:
        """Wait until at least `count` requests were answered; return them all."""
        deadline = time.monotonic() + timeout
        while True:
            with self._lock:
                answered = [r for r in self.requests if r.answered]
            if len(answered) >= count:
                return answered
            if time.monotonic() > deadline:
                pytest.fail(f"the receiver got {len(answered)} of {count} requests in {timeout}s")
            time.sleep(0.02)

    def start(self) -> WebhookReceiver:
        """Listen on 127.0.0.1 (a free port the first time, the same port again after down)."""
        server = ThreadingHTTPServer((HOST, self.port), _handler_for(self))
        server.daemon_threads = True
        self.port = server.server_address[1]
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def down(self) -> None:
        """Stop listening: the port is closed and a POST to it is refused."""
        if self._server is None:
            return
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server = None
        self._thread = None

    def up(self) -> None:
        """Listen again on the same port."""
        if self._server is None:
            self.start()

    def stop(self) -> None:
        """End it for good: slow answers stop waiting, the port closes."""
        self._stopping.set()
        self.down()

    # --- what the server thread calls ------------------------------------------------------

    def _receive(self, received: ReceivedRequest) -> tuple[int, bytes]:
        """Decide the answer to one request (the receiver's logic, under the lock)."""
        with self._lock:
            self.requests.append(received)
            if self.failures_left > 0:
                self.failures_left -= 1
                received.outcome = "failing"
                body = self.failure_body or f"receiver failing ({self.failures_left} more to go)"
                return self.failure_status, body.encode()
            if not received.signature_valid:
                received.outcome = "bad signature"
                return 401, b"signature does not verify"
            try:
                event_id = received.json()["id"]
            except (ValueError, KeyError, TypeError):
                received.outcome = "bad body"
                return 400, b"not an oanm event"
            if event_id != received.delivery_id:
                received.outcome = "bad body"
                return 400, b"the body's id is not the delivery id"
            if received.delivery_id in self._seen:
                received.outcome = "duplicate"
                self.duplicates.append(received.delivery_id)
                return 200, json.dumps({"duplicate": received.delivery_id}).encode()
            self._seen.add(received.delivery_id)
            self.processed.append(received.delivery_id)
            received.outcome = "processed"
            if self.answer_body is not None:
                return 200, self.answer_body
            return 200, json.dumps({"processed": received.delivery_id}).encode()

    def _delay(self) -> float:
        with self._lock:
            if self.slow_left > 0:
                self.slow_left -= 1
                return self.slow_seconds
        return 0.0


def _handler_for(receiver: WebhookReceiver) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        """Answers POSTs to the receiver's path through `receiver._receive`."""

        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length)
            headers = {name: value for name, value in self.headers.items()}
            if self.path != PATH:
                self._answer(404, b"no such hook")
                return
            delay = receiver._delay()
            received = ReceivedRequest(
                path=self.path,
                headers=headers,
                body=body,
                signature_valid=webhook_signature_valid(
                    secret=receiver.secret, header=headers.get(SIGNATURE_HEADER, ""), body=body
                ),
            )
            status, answer = receiver._receive(received)
            if delay:
                receiver._stopping.wait(delay)
            received.answered = status
            self._answer(status, answer)

        def _answer(self, status: int, body: bytes) -> None:
            with contextlib.suppress(OSError):  # the sender may have given up (timeout)
                self.send_response(status)
                self.send_header("Content-Type", "text/plain; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.send_header("Connection", "close")
                self.end_headers()
                self.wfile.write(body)
                self.close_connection = True

        def log_message(self, format: str, *args: Any) -> None:
            pass  # quiet: the tests read `receiver.requests`

    return Handler


@contextlib.contextmanager
def webhook_receiver_running() -> Iterator[WebhookReceiver]:
    """A started receiver, stopped when the block ends."""
    receiver = WebhookReceiver().start()
    try:
        yield receiver
    finally:
        receiver.stop()
