"""A small stand-in for the Hugging Face Hub on 127.0.0.1, enough for ``HfApi.whoami``,
``create_repo``, ``create_branch`` and ``upload_folder`` of small files (uploaded inline, as
the Hub does for "regular" files). Point ``HF_ENDPOINT`` at :attr:`FakeHub.endpoint`."""

from __future__ import annotations

import base64
import dataclasses
import json
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

TOKEN = "hf_fake_token_for_tests_0123456789"
USER = "ada"


@dataclasses.dataclass
class Repo:
    private: bool
    branches: set[str] = dataclasses.field(default_factory=lambda: {"main"})
    # branch -> path -> bytes
    files: dict[str, dict[str, bytes]] = dataclasses.field(default_factory=dict)
    commits: list[dict[str, Any]] = dataclasses.field(default_factory=list)


class FakeHub:
    def __init__(self) -> None:
        self.repos: dict[str, Repo] = {}
        self.requests: list[tuple[str, str]] = []
        self.unknown: list[tuple[str, str]] = []
        hub = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                hub.serve(self, "GET")

            def do_POST(self) -> None:
                hub.serve(self, "POST")

            def do_HEAD(self) -> None:
                hub.serve(self, "HEAD")

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def __enter__(self) -> FakeHub:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(5)

    # -- dispatch --------------------------------------------------------------------------

    def serve(self, h: BaseHTTPRequestHandler, method: str) -> None:
        path = h.path.split("?", 1)[0]
        self.requests.append((method, path))
        length = int(h.headers.get("content-length") or 0)
        raw = h.rfile.read(length) if length else b""
        if h.headers.get("authorization") != f"Bearer {TOKEN}":
            return self.reply(h, 401, {"error": "Invalid credentials in Authorization header"})
        if method == "GET" and path == "/api/whoami-v2":
            return self.reply(
                h, 200, {"type": "user", "name": USER, "auth": {"type": "access_token"}}
            )
        if method == "POST" and path == "/api/repos/create":
            body = json.loads(raw)
            repo_id = f"{body.get('organization') or USER}/{body['name']}"
            private = bool(body.get("private")) or body.get("visibility") == "private"
            self.repos.setdefault(repo_id, Repo(private=private))
            return self.reply(h, 200, {"url": f"{self.endpoint}/{repo_id}", "name": repo_id})
        if method == "POST" and path == "/api/validate-yaml":
            return self.reply(h, 200, {"errors": [], "warnings": []})
        found = re.fullmatch(r"/api/models/([^/]+/[^/]+)/(branch|preupload|commit)/(.+)", path)
        if method == "POST" and found and found.group(1) in self.repos:
            repo = self.repos[found.group(1)]
            action, revision = found.group(2), found.group(3).replace("%2F", "/")
            if action == "branch":
                repo.branches.add(revision)
                return self.reply(h, 200, {})
            if revision not in repo.branches:
                return self.reply(h, 404, {"error": f"Invalid rev id: {revision}"})
            if action == "preupload":
                files = json.loads(raw)["files"]
                modes = [
                    {"path": f["path"], "uploadMode": "regular", "shouldIgnore": False}
                    for f in files
                ]
                return self.reply(h, 200, {"files": modes})
            return self.commit(h, found.group(1), repo, revision, raw)
        self.unknown.append((method, path))
        return self.reply(h, 404, {"error": f"no route {method} {path}"})

    def commit(
        self, h: BaseHTTPRequestHandler, repo_id: str, repo: Repo, revision: str, raw: bytes
    ) -> None:
        lines = [json.loads(line) for line in raw.decode().splitlines() if line.strip()]
        header = next(x["value"] for x in lines if x["key"] == "header")
        files = repo.files.setdefault(revision, {})
        for x in lines:
            if x["key"] == "file":
                files[x["value"]["path"]] = base64.b64decode(x["value"]["content"])
        repo.commits.append({"revision": revision, **header})
        oid = f"{len(repo.commits):040x}"
        pr = f"{self.endpoint}/{repo_id}/discussions/1" if h.path.endswith("create_pr=1") else None
        return self.reply(
            h,
            200,
            {
                "commitUrl": f"{self.endpoint}/{repo_id}/commit/{oid}",
                "commitOid": oid,
                "pullRequestUrl": pr,
            },
        )

    @staticmethod
    def reply(h: BaseHTTPRequestHandler, status: int, body: Any) -> None:
        data = json.dumps(body).encode()
        h.send_response(status)
        h.send_header("content-type", "application/json")
        h.send_header("content-length", str(len(data)))
        h.end_headers()
        if h.command != "HEAD":
            h.wfile.write(data)
