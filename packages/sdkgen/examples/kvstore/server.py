"""A real HTTP server for the key-value API of ``kvstore.yaml``, for tests and for trying the SDK.

Two stdlib ``ThreadingHTTPServer``s on 127.0.0.1 (ports chosen by the system): the API, and a
second origin that plays the signed-URL storage host (it refuses any request that carries a
credential, as a real presigned-URL store would choke on a foreign ``Authorization``). State is
in memory and per tenant (the ``X-KV-Tenant`` credential), so tests that use their own tenant
never see each other's keys. Bounded: both servers stop after ``lifetime`` seconds or after
``max_requests`` requests, whichever comes first, even if nobody calls ``stop()``.

Run it by hand: ``python server.py`` prints the base URL and a token, and serves for 10 minutes.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.parser import BytesParser
from email.policy import HTTP
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, quote, urlencode, urlsplit

__all__ = ["TOKEN", "USERS", "KVServer", "Part", "Seen", "parse_multipart"]

TOKEN = "kv-test-token"  # accepted from the start; exchange_token issues more
USERS = {"ada": "lovelace"}  # the password grant's only user
SNAPSHOT_PAGE = 64 * 1024  # the snapshot is written in pieces of this size
IMPORT_LIMIT = 1024 * 1024  # a larger import is refused with a plain-text 413 (as a proxy would)


@dataclass
class Seen:
    """One request as the server received it (headers lower-cased, query values as lists)."""

    host: str  # "api" or "signed"
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes
    at: float = field(default_factory=time.monotonic)


@dataclass
class Job:
    """A compaction job: pending for ``steps`` polls, then ``outcome``."""

    job_id: str
    tenant: str
    prefix: str
    steps: int
    outcome: str
    poll_after_ms: int | None
    polls: int = 0


@dataclass
class _State:
    lock: threading.Lock = field(default_factory=threading.Lock)
    tokens: set[str] = field(default_factory=lambda: {TOKEN})
    # tenant -> key -> entry, and tenant -> (event id, event name, data)
    keys: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)
    log: dict[str, list[tuple[int, str, dict[str, Any]]]] = field(default_factory=dict)
    jobs: dict[str, Job] = field(default_factory=dict)
    faults: set[str] = field(default_factory=set)  # X-KV-Fault values already failed once
    signed: dict[str, bytes] = field(default_factory=dict)  # signature -> snapshot
    seen: list[Seen] = field(default_factory=list)
    next_event: int = 1


@dataclass
class Part:
    """One part of a multipart/form-data body."""

    name: str
    filename: str | None
    content_type: str | None
    data: bytes


def parse_multipart(content_type: str, body: bytes) -> list[Part]:
    """The parts of a ``multipart/form-data`` body, in order (the stdlib's MIME parser)."""
    head = f"Content-Type: {content_type}\r\nMIME-Version: 1.0\r\n\r\n".encode()
    message = BytesParser(policy=HTTP).parsebytes(head + body)
    if not message.is_multipart():
        raise ValueError("not a multipart body")
    parts = []
    for item in message.iter_parts():
        payload = item.get_payload(decode=True)
        parts.append(
            Part(
                name=str(item.get_param("name", header="content-disposition")),
                filename=item.get_filename(),
                content_type=item["content-type"],
                data=payload if isinstance(payload, bytes) else b"",
            )
        )
    return parts


def kind_of(value: str) -> str:
    """What the server calls a value. ``counter`` is not in the manifest's ``ValueKind`` (a
    newer server's kind): the SDK must keep it as a plain string."""
    if value.isdigit():
        return "counter"
    if value[:1] in "{[":
        try:
            json.loads(value)
            return "json"
        except ValueError:
            pass
    return "text"


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as a real API; every answer has a length
    server: _Server

    def log_message(self, *args: Any) -> None:
        """Quiet: the tests read ``KVServer.seen`` instead."""

    # -- plumbing ------------------------------------------------------------------------

    def _record(self) -> Seen:
        url = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        seen = Seen(
            host=self.server.role,
            method=self.command,
            path=url.path,
            query=parse_qs(url.query, keep_blank_values=True),
            headers={k.lower(): v for k, v in self.headers.items()},
            body=body,
        )
        state = self.server.state
        with state.lock:
            state.seen.append(seen)
            over = len(state.seen) > self.server.max_requests
        if over:  # the bound: answer this one, then stop both servers
            threading.Thread(target=self.server.owner.stop, daemon=True).start()
        return seen

    def _send(self, status: int, body: Any = None, headers: dict[str, str] | None = None) -> None:
        data = b"" if body is None else json.dumps(body).encode()
        self.send_response(status)
        if body is not None:
            self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("x-kv-request-id", f"req-{secrets.token_hex(4)}")
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    def _error(self, status: int, code: str, message: str, **headers: str) -> None:
        # The API's error shape (`ErrorReply`, declared in the manifest's api.errors): the
        # message is at error.message.
        self._send(status, {"error": {"code": code, "message": message}}, headers)

    def _text(self, status: int, text: str) -> None:
        data = text.encode()
        self.send_response(status)
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _bytes(self, status: int, data: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        for start in range(0, len(data), SNAPSHOT_PAGE):  # in pieces, as a large file goes
            self.wfile.write(data[start : start + SNAPSHOT_PAGE])

    def do_GET(self) -> None:
        self._dispatch()

    def do_PUT(self) -> None:
        self._dispatch()

    def do_POST(self) -> None:
        self._dispatch()

    def do_DELETE(self) -> None:
        self._dispatch()

    def _dispatch(self) -> None:
        seen = self._record()
        if self.server.role == "signed":
            return self._signed(seen)
        if (seen.method, seen.path) == ("POST", "/v1/oauth/token"):
            return self._token(seen)  # the one route without credentials
        tenant = self._tenant(seen)
        if tenant is None:
            return None
        fault = seen.headers.get("x-kv-fault")
        if fault is not None:  # a test's one-off failure: 503 the first time a value is seen
            with self.server.state.lock:
                first = fault not in self.server.state.faults
                self.server.state.faults.add(fault)
            if first:
                return self._error(503, "unavailable", "injected fault, try again")
        if seen.headers.get("x-kv-odd-error"):  # a test's error body of another shape
            return self._send(404, {"detail": "odd error shape"})
        return self._route(seen, tenant)

    def _tenant(self, seen: Seen) -> str | None:
        auth = seen.headers.get("authorization", "")
        token = auth.removeprefix("Bearer ") if auth.startswith("Bearer ") else None
        with self.server.state.lock:
            known = token in self.server.state.tokens
        tenant = seen.headers.get("x-kv-tenant", "")
        if not known:
            self._error(401, "unauthorized", "a valid bearer token is required")
            return None
        if not tenant:
            self._error(401, "unauthorized", "the X-KV-Tenant header is required")
            return None
        return tenant

    def _route(self, seen: Seen, tenant: str) -> None:
        path, method = seen.path, seen.method
        if path.startswith("/v1/keys/") and len(path) > len("/v1/keys/"):
            key = path.removeprefix("/v1/keys/")
            if method == "PUT":
                return self._put(seen, tenant, key)
            if method == "GET":
                return self._get(tenant, key)
            if method == "DELETE":
                return self._delete(seen, tenant, key)
        if method == "GET" and path in self._LISTINGS:
            return self._list(seen, tenant, path)
        if method == "GET" and path.startswith("/v1/values/"):
            entry = self._entries(tenant).get(path.removeprefix("/v1/values/"))
            if entry is None:
                return self._error(404, "not_found", "no such key")
            return self._bytes(200, entry["value"].encode())
        if (method, path) == ("GET", "/v1/snapshot"):
            return self._snapshot(seen, tenant)
        if (method, path) == ("POST", "/v1/jobs/compaction"):
            return self._start_job(seen, tenant)
        if method == "GET" and path.startswith("/v1/jobs/"):
            return self._poll_job(tenant, path.removeprefix("/v1/jobs/"))
        if (method, path) == ("GET", "/v1/watch"):
            return self._watch(seen, tenant)
        if (method, path) == ("POST", "/v1/import"):
            return self._import(seen, tenant)
        return self._error(404, "no_route", f"no route {method} {path}")

    # -- keys ----------------------------------------------------------------------------

    def _entries(self, tenant: str) -> dict[str, dict[str, Any]]:
        with self.server.state.lock:
            return dict(self.server.state.keys.get(tenant, {}))

    def _event(self, tenant: str, name: str, data: dict[str, Any]) -> None:
        state = self.server.state  # called with the lock held
        state.log.setdefault(tenant, []).append((state.next_event, name, data))
        state.next_event += 1

    def _version_ok(self, seen: Seen, current: int) -> bool:
        wanted = seen.headers.get("if-version")
        return wanted is None or int(wanted) == current

    def _put(self, seen: Seen, tenant: str, key: str) -> None:
        try:
            body = json.loads(seen.body)
        except ValueError:
            return self._error(400, "bad_json", "the body is not JSON")
        if not isinstance(body, dict) or not isinstance(body.get("value"), str):
            return self._error(422, "invalid", "`value` (a string) is required")
        cookies = dict(
            part.strip().split("=", 1)
            for part in seen.headers.get("cookie", "").split(";")
            if "=" in part
        )
        state = self.server.state
        with state.lock:
            keys = state.keys.setdefault(tenant, {})
            current = keys.get(key, {}).get("version", 0)
            if not self._version_ok(seen, current):
                return self._error(412, "version_mismatch", f"`{key}` is at version {current}")
            entry = {
                "key": key,
                "value": body["value"],
                "version": current + 1,
                "kind": kind_of(body["value"]),
                **({"ttl_seconds": body["ttl_seconds"]} if "ttl_seconds" in body else {}),
                **({"session": cookies["kv_session"]} if "kv_session" in cookies else {}),
                **({"content-type": body["content-type"]} if "content-type" in body else {}),
            }
            keys[key] = entry
            self._event(tenant, "put", {k: entry[k] for k in ("key", "version", "kind")})
        return self._send(200, entry)

    def _get(self, tenant: str, key: str) -> None:
        entry = self._entries(tenant).get(key)
        if entry is None:
            return self._error(404, "not_found", f"no key `{key}`")
        return self._send(200, entry)

    def _delete(self, seen: Seen, tenant: str, key: str) -> None:
        state = self.server.state
        with state.lock:
            keys = state.keys.setdefault(tenant, {})
            if key not in keys:
                return self._error(404, "not_found", f"no key `{key}`")
            if not self._version_ok(seen, keys[key]["version"]):
                return self._error(412, "version_mismatch", f"`{key}` changed")
            del keys[key]
            self._event(tenant, "delete", {"key": key})
        return self._send(204)

    # -- listings: one store, four ways of paging it ----------------------------------------

    _LISTINGS = ("/v1/keys", "/v1/key-pages", "/v1/key-scan", "/v1/key-feed")

    def _list(self, seen: Seen, tenant: str, path: str) -> None:
        q = {name: values[-1] for name, values in seen.query.items()}
        prefix = q.get("prefix", "")
        entries = [e for k, e in sorted(self._entries(tenant).items()) if k.startswith(prefix)]
        limit = int(q.get("limit", q.get("per_page", "2")))
        if path == "/v1/keys":
            offset = int(q.get("offset", "0"))
            chunk = entries[offset : offset + limit]
            return self._send(200, {"data": {"items": chunk, "total": len(entries)}})
        if path == "/v1/key-pages":
            page = int(q.get("page", "1"))
            chunk = entries[(page - 1) * limit : page * limit]
            return self._send(200, {"results": chunk, "page": page})
        if path == "/v1/key-scan":
            # An opaque cursor: the last key of the page, encoded (names only on this listing).
            after = base64.urlsafe_b64decode(q["after"]).decode() if "after" in q else ""
            names = [e["key"] for e in entries if e["key"] > after][:limit]
            rest = [e for e in entries if e["key"] > (names[-1] if names else after)]
            cursor = base64.urlsafe_b64encode(names[-1].encode()).decode() if rest else None
            return self._send(200, {"keys": names, "meta": {"next_cursor": cursor}})
        start = int(q.get("start", "0"))  # /v1/key-feed: the position travels in the Link only
        chunk = entries[start : start + limit]
        headers = {}
        if start + limit < len(entries):
            query = urlencode({"prefix": prefix, "limit": limit, "start": start + limit})
            nxt = f"{self.server.owner.base_url}/v1/key-feed?{query}"
            headers["Link"] = (
                f'<{nxt}>; rel="next", <{self.server.owner.base_url}/v1/key-feed>; rel="first"'
            )
        return self._send(200, {"items": chunk}, headers)

    # -- binary: a snapshot behind a redirect to the signed-URL host -------------------------

    def _snapshot(self, seen: Seen, tenant: str) -> None:
        prefix = seen.query.get("prefix", [""])[-1]
        lines = [
            json.dumps(e, sort_keys=True) + "\n"
            for k, e in sorted(self._entries(tenant).items())
            if k.startswith(prefix)
        ]
        signature = secrets.token_urlsafe(16)
        with self.server.state.lock:
            self.server.state.signed[signature] = "".join(lines).encode()
        location = f"{self.server.owner.signed_url}/blobs/{quote(signature)}?expires=300"
        self._send(302, None, {"Location": location})

    def _signed(self, seen: Seen) -> None:
        # A presigned URL carries its own authority: a request that also brings credentials is
        # refused (S3 answers 400 to a second auth mechanism), so a leak fails loudly.
        if "authorization" in seen.headers or "x-kv-tenant" in seen.headers:
            return self._error(403, "credentials_sent", "credentials sent to the signed URL")
        with self.server.state.lock:
            data = self.server.state.signed.get(seen.path.removeprefix("/blobs/"))
        if data is None or seen.method != "GET":
            return self._error(404, "not_found", "no such blob")
        return self._bytes(200, data)

    # -- form body: the password grant -----------------------------------------------------

    def _token(self, seen: Seen) -> None:
        if (
            seen.headers.get("content-type", "").split(";")[0]
            != "application/x-www-form-urlencoded"
        ):
            return self._error(415, "unsupported", "send the grant as a form")
        form = parse_qs(seen.body.decode(), keep_blank_values=True)
        user, password = form.get("username", [""])[0], form.get("password", [""])[0]
        if form.get("grant_type") != ["password"] or USERS.get(user) != password:
            return self._error(400, "invalid_grant", "wrong user or password")
        token = f"kv-{secrets.token_hex(8)}"
        with self.server.state.lock:
            self.server.state.tokens.add(token)
        scope = form.get("scope", ["read"])
        reply = {"access_token": token, "token_type": "bearer", "expires_in": 3600, "scope": scope}
        return self._send(200, reply)

    # -- multipart: a bulk import ---------------------------------------------------------------

    def _import(self, seen: Seen, tenant: str) -> None:
        if len(seen.body) > IMPORT_LIMIT:  # not the API's error shape: a front proxy's text
            return self._text(413, f"413 Request Entity Too Large: {len(seen.body)} bytes\n")
        content_type = seen.headers.get("content-type", "")
        if not content_type.startswith("multipart/form-data"):
            return self._error(415, "unsupported", "send the import as multipart/form-data")
        try:
            parts = parse_multipart(content_type, seen.body)
        except ValueError:
            return self._error(400, "bad_multipart", "the body is not multipart/form-data")
        files = [p for p in parts if p.name == "file" and p.filename is not None]
        if len(files) != 1:
            return self._error(422, "invalid", "exactly one `file` part is required")
        fields = {p.name: p.data.decode() for p in parts if p.filename is None}
        labels = [p.data.decode() for p in parts if p.name == "labels"]
        prefix, overwrite = fields.get("prefix", ""), fields.get("overwrite", "true") == "true"
        rows = []
        for number, line in enumerate(files[0].data.decode().splitlines(), 1):
            try:
                row = json.loads(line)
            except ValueError:
                row = None
            if not (isinstance(row, dict) and isinstance(row.get("key"), str)) or not isinstance(
                row.get("value"), str
            ):
                reply = {"rejected": {"line": number, "reason": f"line {number} is not an entry"}}
                return self._send(422, reply)  # this endpoint's own error shape
            rows.append((prefix + row["key"], row["value"]))
        imported = skipped = 0
        state = self.server.state
        with state.lock:
            keys = state.keys.setdefault(tenant, {})
            for key, value in rows:
                if key in keys and not overwrite:
                    skipped += 1
                    continue
                version = keys.get(key, {}).get("version", 0) + 1
                keys[key] = {"key": key, "value": value, "version": version, "kind": kind_of(value)}
                self._event(tenant, "put", {"key": key, "version": version, "kind": kind_of(value)})
                imported += 1
        report = {
            "filename": files[0].filename,
            "size_bytes": len(files[0].data),
            "sha256": hashlib.sha256(files[0].data).hexdigest(),
            "imported": imported,
            "skipped": skipped,
            "labels": labels,
        }
        return self._send(200, report)

    # -- a 202-and-poll job ------------------------------------------------------------------

    def _start_job(self, seen: Seen, tenant: str) -> None:
        body = json.loads(seen.body or b"{}")
        job = Job(
            job_id=f"job-{secrets.token_hex(4)}",
            tenant=tenant,
            prefix=body.get("prefix", ""),
            steps=int(body.get("steps", 2)),
            outcome=body.get("outcome", "done"),
            poll_after_ms=body.get("poll_after_ms"),
        )
        with self.server.state.lock:
            self.server.state.jobs[job.job_id] = job
        accepted = datetime.now(UTC).isoformat()
        return self._send(202, {"job_id": job.job_id, "accepted_at": accepted})

    def _poll_job(self, tenant: str, job_id: str) -> None:
        with self.server.state.lock:
            job = self.server.state.jobs.get(job_id)
            if job is not None and job.tenant == tenant:
                job.polls += 1
        if job is None or job.tenant != tenant:
            return self._error(404, "not_found", f"no job `{job_id}`")
        if job.polls <= job.steps:
            status: dict[str, Any] = {"state": "queued" if job.polls == 1 else "running"}
            headers = {}
            if job.poll_after_ms is not None:
                status["poll_after_ms"] = job.poll_after_ms
            else:  # no body hint asked for: say it with the header (whole seconds)
                headers["Retry-After"] = "1"
            return self._send(200, {"job_id": job_id, "status": status}, headers)
        if job.outcome != "done":
            kind, message = (
                ("storage", "compaction failed: disk full")
                if job.outcome == "failed"
                else ("operator", "compaction cancelled by an operator")
            )
            error = {"state": job.outcome, "error": {"message": message, "kind": kind}}
            return self._send(200, {"job_id": job_id, "status": error})
        entries = [e for k, e in self._entries(tenant).items() if k.startswith(job.prefix)]
        removed = sum(1 for e in entries if e["value"] == "")
        reply = {"job_id": job_id, "status": {"state": "done"}}
        return self._send(200, {**reply, "removed": removed, "kept": len(entries) - removed})

    # -- server-sent events --------------------------------------------------------------------

    def _watch(self, seen: Seen, tenant: str) -> None:
        prefix = seen.query.get("prefix", [""])[-1]
        after = int(seen.headers.get("last-event-id") or 0)
        with self.server.state.lock:
            log = list(self.server.state.log.get(tenant, []))
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Connection", "close")  # no length: the stream ends when we hang up
        self.end_headers()
        self.close_connection = True
        frames = [b": kv watch\n\n", b"event: ping\ndata: {}\n\n"]
        for event_id, name, data in log:
            if event_id > after and data["key"].startswith(prefix):
                frames.append(
                    f"id: {event_id}\nevent: {name}\ndata: {json.dumps(data)}\n\n".encode()
                )
        # An event a newer server added: the manifest says `unknown: ignore`.
        frames.append(b'event: compacted\ndata: {"removed": 0}\n\n')
        frames.append(b"event: end\ndata: {}\n\n")
        try:
            for frame in frames:
                self.wfile.write(frame)
                self.wfile.flush()
            # A server that keeps the connection open after `end`: a client that did not stop
            # there would also read this late event (and wait for it).
            time.sleep(0.5)
            self.wfile.write(b'id: 999999\nevent: put\ndata: {"key": "late", "version": 1}\n\n')
            self.wfile.flush()
        except OSError:
            pass  # the client hung up after `end`, as it should


class _Server(ThreadingHTTPServer):
    daemon_threads = True  # a kept-alive connection never holds up the shutdown

    def __init__(self, owner: KVServer, role: str, state: _State, max_requests: int) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.owner, self.role, self.state, self.max_requests = owner, role, state, max_requests


class KVServer:
    """The API and its signed-URL host, both on 127.0.0.1, bounded in time and in requests.

    Example::

        with KVServer(lifetime=60) as server:
            client = KVStore(base_url=server.base_url, api_key=TOKEN,
                             credentials={"KV_TENANT": "t1"})
    """

    def __init__(self, *, lifetime: float = 300.0, max_requests: int = 5000) -> None:
        self._state = _State()
        self._api = _Server(self, "api", self._state, max_requests)
        self._signed = _Server(self, "signed", self._state, max_requests)
        self._threads = [
            threading.Thread(target=s.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
            for s in (self._api, self._signed)
        ]
        for thread in self._threads:
            thread.start()
        self._stopped = threading.Event()
        self._timer = threading.Timer(lifetime, self.stop)  # stops itself, whatever happens
        self._timer.daemon = True
        self._timer.start()

    @property
    def base_url(self) -> str:
        """The API's URL (what the client's ``base_url`` is)."""
        host, port = self._api.server_address[:2]
        return f"http://{host!s}:{port}"

    @property
    def signed_url(self) -> str:
        """The signed-URL host's origin (another port: another origin)."""
        host, port = self._signed.server_address[:2]
        return f"http://{host!s}:{port}"

    def seen(self, host: str | None = None, tenant: str | None = None) -> list[Seen]:
        """The requests received so far, optionally only one host's or one tenant's."""
        with self._state.lock:
            out = list(self._state.seen)
        if host is not None:
            out = [s for s in out if s.host == host]
        if tenant is not None:
            out = [s for s in out if s.headers.get("x-kv-tenant") == tenant]
        return out

    def job(self, job_id: str) -> Job:
        """A job's record (its poll count), for tests."""
        with self._state.lock:
            return self._state.jobs[job_id]

    def stop(self) -> None:
        """Stop both servers (idempotent; also called by the lifetime timer)."""
        if self._stopped.is_set():
            return
        self._stopped.set()
        self._timer.cancel()
        for server in (self._api, self._signed):
            server.shutdown()
            server.server_close()

    def __enter__(self) -> KVServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


if __name__ == "__main__":
    with KVServer(lifetime=600) as running:
        print(f"KV_BASE_URL={running.base_url} KV_TOKEN={TOKEN} (serving for 10 minutes)")
        running._timer.join()
