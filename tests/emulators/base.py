"""Shared machinery for loopback provider emulators.

An emulator is a real HTTP server on 127.0.0.1 (ephemeral port, background thread), so both our
adapters and the providers' official SDKs can talk to it. This module gives each provider module:

* `Emulator`: the threaded server, a route table, a log of every request, auth hooks,
  fault injection (`inject`), and serving of real mp4 outputs with expiring links;
* `EmulatedJob`: a job that advances one state per status read through the provider's own
  status spellings, and can be made to fail with a provider failure code;
* `sample_mp4`: a tiny real H.264 clip made once per process with the bundled ffmpeg.

A provider module subclasses `Emulator`, declares routes with `self.route(...)`, and overrides
`check_auth` and `error_response` to give its real header rules and error envelopes.
"""

from __future__ import annotations

import json
import re
import secrets
import subprocess
import tempfile
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import imageio_ffmpeg

# --- media -----------------------------------------------------------------------------------------

_clip_lock = threading.Lock()
_clip_dir: Path | None = None


def sample_mp4(duration_s: float = 1.0, width: int = 160, height: int = 90, fps: int = 24) -> bytes:
    """Bytes of a real H.264 mp4 (test pattern), generated once per size and duration per process."""
    global _clip_dir
    with _clip_lock:
        if _clip_dir is None:
            _clip_dir = Path(tempfile.mkdtemp(prefix="reelforge-emu-"))
        path = _clip_dir / f"clip-{width}x{height}-{duration_s:g}s-{fps}.mp4"
        if not path.exists():
            _encode_test_clip(path, duration_s, width, height, fps)
        return path.read_bytes()


def _encode_test_clip(path: Path, duration_s: float, width: int, height: int, fps: int) -> None:
    tmp = path.with_suffix(".tmp.mp4")
    cmd = [
        imageio_ffmpeg.get_ffmpeg_exe(), "-v", "error", "-y",
        "-f", "lavfi", "-i", f"testsrc2=size={width}x{height}:rate={fps}:duration={duration_s:g}",
        "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-movflags", "+faststart", str(tmp),
    ]  # fmt: skip
    subprocess.run(cmd, check=True, capture_output=True, timeout=60)
    tmp.replace(path)


# --- requests, responses, faults -------------------------------------------------------------------
class _Server(ThreadingHTTPServer):
    #: The default backlog of 5 resets connections when several servers poll at once (a create whose
    #: answer is lost that way rightly ends `unknown`, which is not what a load test is about).
    request_queue_size = 256


@dataclass
class Recorded:
    """One request as the emulator saw it."""

    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]  # lower-cased names
    body: bytes
    route: str | None = None
    at: float = field(default_factory=time.monotonic)

    @property
    def json(self) -> Any:
        return json.loads(self.body) if self.body else None


@dataclass
class Reply:
    """What a route answers: JSON (`body`), raw bytes (`raw`), or nothing (204)."""

    status: int = 200
    body: Any = None
    raw: bytes | None = None
    headers: dict[str, str] = field(default_factory=dict)
    #: For raw bodies: bytes per chunk and pause between chunks (slow downloads).
    chunk: int = 1 << 16
    chunk_pause_s: float = 0.0
    #: Bytes sent at once before the paced chunks start (a valid header, then a trickle).
    lead: int = 0


@dataclass
class Fault:
    """One injected misbehaviour for a route; consumed `times` times, oldest first."""

    status: int | None = None
    retry_after: str | None = None
    retry_after_ms: int | None = None
    body: Any = None
    #: Sleep this long before answering (beyond the client's timeout = a timeout).
    delay_s: float = 0.0
    #: Answer 200 with a body that is not JSON.
    malformed: bool = False
    #: Close the connection without an answer; with `process=True` the request is handled first
    #: (the job is created) and only the reply is lost.
    drop: bool = False
    process: bool = False
    #: Slow download: pause between 4 KiB chunks.
    chunk_pause_s: float = 0.0
    #: Slow-loris download: the first 64 bytes (a valid mp4 header) at once, then one byte per pause.
    trickle_s: float = 0.0
    #: Answer with this status and a body that echoes the request's credentials back (a careless
    #: provider's error page: the Authorization header and the full URL with its query string).
    echo_status: int | None = None
    times: int = 1


class _Drop(Exception):
    """Raised inside a handler to close the connection without replying."""


Handler = Callable[["Recorded", re.Match[str]], Reply]


# --- jobs ------------------------------------------------------------------------------------------


@dataclass
class EmulatedJob:
    """A provider job that moves one step through `states` on every status read."""

    id: str
    kind: str
    request: Any
    states: list[str]
    polls: int = 0
    #: (failure code, message) to end with instead of success.
    failure: tuple[str, str] | None = None
    canceled: bool = False
    output_duration_s: float = 1.0
    created_at: float = field(default_factory=time.time)
    #: Held jobs never leave their first state (crash tests poll them while the server dies).
    held: bool = False
    #: Finish this many seconds after creation, however often it is read (benchmarks: a fixed task
    #: time); None: one step per status read.
    takes_s: float | None = None

    @property
    def state_index(self) -> int:
        """The first status read sees `states[0]`; each further read moves one step (or, with
        `takes_s`, the states are spread over that time)."""
        if self.held:
            return 0
        last = len(self.states) - 1
        if self.takes_s is not None:
            elapsed = time.time() - self.created_at
            return last if elapsed >= self.takes_s else min(last - 1, int(last * elapsed / self.takes_s))
        return min(max(self.polls - 1, 0), last)

    @property
    def finished(self) -> bool:
        if self.takes_s is not None and not self.held:
            return self.canceled or time.time() - self.created_at >= self.takes_s
        return self.canceled or (not self.held and self.polls >= len(self.states))

    @property
    def progress(self) -> float:
        return round(self.state_index / max(1, len(self.states) - 1), 3)


# --- the server ------------------------------------------------------------------------------------


class Emulator:
    """A threaded loopback HTTP server with routes, a request log, faults and mp4 outputs."""

    name = "emulator"
    #: Routes reached through a signed link, with no API key (the outputs).
    signed_routes = frozenset({"download"})
    #: Status reads a job takes to finish (after creation): tests may lower or raise it.
    steps = 3

    def __init__(self) -> None:
        self.requests: list[Recorded] = []
        self.jobs: dict[str, EmulatedJob] = {}
        self._routes: list[tuple[str, re.Pattern[str], str, Handler]] = []
        self._faults: dict[str, deque[Fault]] = {}
        self._lock = threading.RLock()
        self._tokens: dict[str, str] = {}  # valid download token -> job id
        self.fail_next: tuple[str, str] | None = None
        self.hold_jobs = False
        #: Every new job takes this many seconds (None: it advances one step per status read).
        self.task_seconds: float | None = None
        #: The frame size of every output clip (benchmarks use 1280x720).
        self.output_size = (160, 90)
        self.route("GET", r"/files/(?P<job>[^/]+)\.mp4", "download", self._serve_output)
        self._server = _Server(("127.0.0.1", 0), _make_handler(self))
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, name=f"{self.name}-emu", daemon=True
        )

    # lifecycle
    def start(self) -> Emulator:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> Emulator:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    # configuration
    def route(self, method: str, pattern: str, name: str, handler: Handler) -> None:
        """Register `handler` for `method` and a full-match path regex; `name` is used by faults and counts."""
        self._routes.append((method, re.compile(pattern), name, handler))

    def inject(self, route: str, *, times: int = 1, retry_after: float | str | None = None, **kw: Any) -> None:
        """Queue a fault for the next `times` requests to `route` (see `Fault`)."""
        ra = None if retry_after is None else (retry_after if isinstance(retry_after, str) else f"{retry_after:g}")
        with self._lock:
            self._faults.setdefault(route, deque()).append(Fault(retry_after=ra, times=times, **kw))

    def clear_faults(self) -> None:
        """Drop every fault still queued (the link works normally again)."""
        with self._lock:
            self._faults.clear()

    def count(self, route: str) -> int:
        """How many requests reached `route` (faulted ones included)."""
        with self._lock:
            return sum(1 for r in self.requests if r.route == route)

    def requests_to(self, route: str) -> list[Recorded]:
        with self._lock:
            return [r for r in self.requests if r.route == route]

    def issued_tokens(self) -> list[str]:
        """Every output-link token handed out and still valid (the secrets a log must never show)."""
        with self._lock:
            return list(self._tokens)

    def expire_outputs(self) -> None:
        """Invalidate every output link handed out so far (a fresh status read mints new ones)."""
        with self._lock:
            self._tokens.clear()

    # helpers for provider modules
    def new_job(self, kind: str, request: Any, states: list[str], duration_s: float = 1.0) -> EmulatedJob:
        """Create and store a job; applies `fail_next` and `hold_jobs`."""
        with self._lock:
            job = EmulatedJob(
                id=self.new_id(), kind=kind, request=request, states=states, output_duration_s=duration_s,
                failure=self.fail_next, held=self.hold_jobs, takes_s=self.task_seconds,
            )  # fmt: skip
            self.fail_next = None
            self.jobs[job.id] = job
            return job

    def new_id(self) -> str:
        import uuid

        return str(uuid.uuid4())

    def output_url(self, job: EmulatedJob) -> str:
        """A signed-looking link to the job's mp4, valid until `expire_outputs`."""
        token = secrets.token_urlsafe(12)
        with self._lock:
            self._tokens[token] = job.id
        return f"{self.url}/files/{job.id}.mp4?token={token}&Expires={int(time.time()) + 3600}"

    def read_job(self, job_id: str) -> EmulatedJob | None:
        """The job after one more status read (advances its state)."""
        with self._lock:
            job = self.jobs.get(job_id)
            if job is not None and not job.canceled:
                job.polls += 1
            return job

    # hooks for provider modules
    def check_auth(self, req: Recorded) -> Reply | None:
        """Return an error reply when required headers are missing or wrong."""
        return None

    def error_response(self, status: int, message: str) -> Reply:
        """The provider's error envelope."""
        return Reply(status, {"error": message})

    # internals
    def _serve_output(self, req: Recorded, match: re.Match[str]) -> Reply:
        token = (req.query.get("token") or [""])[0]
        with self._lock:
            job = self.jobs.get(match["job"])
            valid = job is not None and self._tokens.get(token) == job.id
        if not valid or job is None:
            return Reply(403, raw=b"<?xml version='1.0'?><Error><Code>AccessDenied</Code>"
                         b"<Message>Request has expired</Message></Error>",
                         headers={"Content-Type": "application/xml"})  # fmt: skip
        return Reply(200, raw=sample_mp4(job.output_duration_s, *self.output_size), headers={"Content-Type": "video/mp4"})

    def _take_fault(self, route: str) -> Fault | None:
        with self._lock:
            queue = self._faults.get(route)
            if not queue:
                return None
            fault = queue[0]
            fault.times -= 1
            if fault.times <= 0:
                queue.popleft()
            return fault

    def _dispatch(self, req: Recorded) -> Reply:
        for method, pattern, name, handler in self._routes:
            match = pattern.fullmatch(req.path)
            if match and method == req.method:
                req.route = name
                with self._lock:
                    self.requests.append(req)
                if name not in self.signed_routes:
                    denied = self.check_auth(req)
                    if denied is not None:
                        return denied
                fault = self._take_fault(name)
                return self._apply(fault, req, match, handler) if fault else handler(req, match)
        with self._lock:
            self.requests.append(req)
        return self.error_response(404, f"No route for {req.method} {req.path}")

    def _apply(self, fault: Fault, req: Recorded, match: re.Match[str], handler: Handler) -> Reply:
        if fault.delay_s:
            time.sleep(fault.delay_s)
        if fault.drop:
            if fault.process:
                handler(req, match)
            raise _Drop
        if fault.malformed:
            return Reply(200, raw=b'{"id": "trunc', headers={"Content-Type": "application/json"})
        if fault.chunk_pause_s:
            reply = handler(req, match)
            reply.chunk, reply.chunk_pause_s = 4096, fault.chunk_pause_s
            return reply
        if fault.trickle_s:
            reply = handler(req, match)
            reply.lead, reply.chunk, reply.chunk_pause_s = 64, 1, fault.trickle_s
            return reply
        if fault.echo_status is not None:
            query = "&".join(f"{k}={v}" for k, vs in req.query.items() for v in vs)
            said = f"{req.headers.get('authorization', '')} was sent to {self.url}{req.path}?{query}"
            return self.error_response(fault.echo_status, f"Invalid request: {said}")
        if fault.status is None:
            return handler(req, match)
        reply = (
            Reply(fault.status, fault.body)
            if fault.body is not None
            else self.error_response(fault.status, _default_message(fault.status))
        )
        if fault.retry_after is not None:
            reply.headers["Retry-After"] = fault.retry_after
        if fault.retry_after_ms is not None:
            reply.headers["retry-after-ms"] = str(fault.retry_after_ms)
        return reply


def _default_message(status: int) -> str:
    return {
        400: "Invalid request", 401: "Unauthorized", 402: "Insufficient credits", 403: "Forbidden",
        404: "Not found", 429: "Too many requests", 500: "Internal server error", 502: "Bad gateway",
        503: "Service unavailable", 504: "Gateway timeout",
    }.get(status, "Error")  # fmt: skip


def _make_handler(emu: Emulator) -> type[BaseHTTPRequestHandler]:
    class _Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:  # quiet: tests read emu.requests
            pass

        def _handle(self) -> None:
            parts = urlsplit(self.path)
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            req = Recorded(
                method=self.command, path=parts.path, query=parse_qs(parts.query),
                headers={k.lower(): v for k, v in self.headers.items()}, body=body,
            )  # fmt: skip
            try:
                reply = emu._dispatch(req)
            except _Drop:
                self.close_connection = True
                return
            self._write(reply)

        def _write(self, reply: Reply) -> None:
            payload = reply.raw if reply.raw is not None else b""
            headers = dict(reply.headers)
            if reply.raw is None and reply.body is not None:
                payload = json.dumps(reply.body).encode()
                headers.setdefault("Content-Type", "application/json; charset=utf-8")
            self.send_response(reply.status)
            for k, v in headers.items():
                self.send_header(k, v)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            if self.command == "HEAD":
                return
            try:
                if reply.lead:
                    self.wfile.write(payload[: reply.lead])
                    self.wfile.flush()
                    payload = payload[reply.lead :]
                for piece in _chunks(payload, reply.chunk):
                    self.wfile.write(piece)
                    self.wfile.flush()
                    if reply.chunk_pause_s:
                        time.sleep(reply.chunk_pause_s)
            except (BrokenPipeError, ConnectionResetError):
                self.close_connection = True

        do_GET = do_POST = do_DELETE = do_PUT = do_HEAD = do_PATCH = _handle

    return _Handler


def _chunks(data: bytes, size: int) -> Iterator[bytes]:
    for start in range(0, len(data), max(1, size)):
        yield data[start : start + size]
