"""The review page's server: 127.0.0.1 only, a random port, a secret in every URL.

    http://127.0.0.1:PORT/SECRET/                 the page
    GET  /SECRET/page.js                          its script
    GET  /SECRET/api/state                        tokens, pictures, candidates, decisions, job status
    POST /SECRET/api/decision  {"id", "decision", "seed"?}   written atomically to review.json
    POST /SECRET/api/apply                        re-roll rejected / render picked: `reroll --from-review`
    GET  /SECRET/files/images/7.png               images/, candidates/, snapshots/ PNGs of plan tokens only

Anything else, and anything without the secret, is refused (403) before a file is looked at.
The secret is compared in constant time; the Host header must be this server's (a DNS-rebinding
page cannot borrow the browser); POSTs must carry JSON and, when the browser sends an Origin,
this server's. Behind a proxy (Colab's port proxy, an SSH tunnel with another name) the page comes
from another origin: `public_origins` names each one the caller trusts, exactly (scheme, host,
port), and only those join the accepted Host and Origin values. Applying runs `roboz-collection reroll BUILD --from-review` in a child process:
the reroll command's own code, lock and signal handling, and a crash there never takes the page down.
"""

from __future__ import annotations

import hmac
import json
import os
import re
import secrets
import subprocess
import sys
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Sequence
from urllib.parse import urlsplit

from collection.review.decisions import load_decisions, parse_decision, pick_problem_raise, save_decisions

HERE = Path(__file__).parent
FILE_RE = re.compile(r"^(images/(\d+)\.png|candidates/(\d+)/\d+\.png|snapshots/(\d+)/\d+\.png)$")
MAX_BODY = 4096


@dataclass
class Job:
    running: bool = False
    returncode: int | None = None
    output: str = ""
    runs: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)


def _version(p: Path) -> str:
    """A cache-busting tag that changes whenever the file is rewritten."""
    try:
        st = p.stat()
    except FileNotFoundError:
        return ""
    return f"{st.st_mtime_ns:x}{st.st_size:x}"


def build_state(build_dir: Path, job: Job) -> dict[str, Any]:
    """What the page shows, from the build directory as it is now."""
    from buildfiles.plan import load_plan
    from collection.render.reroll import effective_plan, load_rerolls

    plan = load_plan(build_dir)
    current = effective_plan(build_dir, plan)
    decisions = load_decisions(build_dir)
    rerolls = load_rerolls(build_dir)
    tokens = []
    for t in current.tokens:
        rec = _record(build_dir, t.id)
        img = build_dir / "images" / f"{t.id}.png"
        cands = []
        for c in (rec or {}).get("candidates") or ():
            cp = build_dir / "candidates" / str(t.id) / f"{c['seed']}.png"
            cands.append({"seed": c["seed"], "score": c.get("score"), "stop_iteration": c.get("stop_iteration"),
                          "image": f"files/candidates/{t.id}/{c['seed']}.png?v={_version(cp)}" if cp.exists() else None})
        final_it = (rec or {}).get("iterations")
        snaps = []
        for sp in sorted((build_dir / "snapshots" / str(t.id)).glob("*.png")):
            if sp.stem.isdigit() and int(sp.stem) != final_it:  # the final image is already the big one
                snaps.append({"iteration": int(sp.stem), "image": f"files/snapshots/{t.id}/{sp.name}?v={_version(sp)}"})
        d = decisions.get(t.id)
        r = rerolls.get(t.id)
        tokens.append({
            "id": t.id, "name": t.name, "prompt": t.prompt, "traits": t.traits,
            "seed": (rec or {}).get("seed", t.seed),
            "image": f"files/images/{t.id}.png?v={_version(img)}" if img.exists() else None,
            "snapshots": snaps, "iterations": final_it,
            "candidates": cands, "judge": (rec or {}).get("judge"), "tiny": bool((rec or {}).get("tiny")),
            "test_models": (rec or {}).get("test_models"),
            "decision": d.to_dict() if d else None,
            "rerolls": r.count if r and r.base_seed == next(p.seed for p in plan.tokens if p.id == t.id) else 0,
        })
    return {"collection": plan.collection.name, "tokens": tokens,
            "job": {"running": job.running, "returncode": job.returncode, "output": job.output[-4000:], "runs": job.runs}}


def _record(build_dir: Path, token_id: int) -> dict[str, Any] | None:
    from buildfiles.records import RecordError, read_record

    try:
        rec = read_record(build_dir, token_id)
    except RecordError:
        return None
    return {**rec.extra, "seed": rec.seed, "tiny": rec.tiny, "test_models": rec.test_models, "iterations": rec.iterations}


class ReviewServer:
    """`with ReviewServer(build) as s: print(s.url)`; serves on a thread until closed."""

    def __init__(self, build_dir: Path | str, *, reroll_args: list[str] | None = None, host: str = "127.0.0.1", port: int = 0,
                 public_origins: Sequence[str] = ()):
        self.public_origins = tuple(dict.fromkeys(public_origin(o) for o in public_origins))  # checked before binding
        self.build_dir = Path(build_dir).resolve()
        self.secret = secrets.token_urlsafe(24)
        self.reroll_args = list(reroll_args or [])
        self.job = Job()
        self.httpd = ThreadingHTTPServer((host, port), _handler(self))
        self.httpd.daemon_threads = True
        self.host, self.port = self.httpd.server_address[:2]
        self._thread: threading.Thread | None = None

    @property
    def origin(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def url(self) -> str:
        return f"{self.origin}/{self.secret}/"

    @property
    def hosts(self) -> frozenset[str]:
        """Host header values a request may carry: this server's, and each trusted public origin's."""
        return frozenset({f"{self.host}:{self.port}", f"localhost:{self.port}",
                          *(urlsplit(o).netloc for o in self.public_origins)})

    @property
    def origins(self) -> frozenset[str]:
        """Origin header values a POST may carry."""
        return frozenset({self.origin, f"http://localhost:{self.port}", *self.public_origins})

    def start(self) -> "ReviewServer":
        self._thread = threading.Thread(target=self.httpd.serve_forever, name="review-server", daemon=True)
        self._thread.start()
        return self

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def __enter__(self) -> "ReviewServer":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.close()

    # -- actions --

    def decide(self, body: dict[str, Any]) -> None:
        token_id = body.get("id")
        tokens = {t["id"]: t for t in build_state(self.build_dir, self.job)["tokens"]}
        if not isinstance(token_id, int) or isinstance(token_id, bool) or token_id not in tokens:
            raise ValueError("unknown token id")
        with self.job.lock:
            if self.job.running:
                raise RuntimeError("a re-roll is running; decide again when it is done")
            decisions = load_decisions(self.build_dir)
            if body.get("decision") is None:
                decisions.pop(token_id, None)
            else:
                d = parse_decision(body)
                if d.decision == "pick":  # only a seed the page showed: a forged one would render a picture no one saw
                    pick_problem_raise(token_id, d.seed, [c["seed"] for c in tokens[token_id]["candidates"]])
                decisions[token_id] = d
            save_decisions(self.build_dir, decisions)

    def apply(self) -> None:
        with self.job.lock:
            if self.job.running:
                raise RuntimeError("a re-roll is already running")
            self.job.running, self.job.returncode, self.job.output = True, None, ""
        cmd = [sys.executable, "-m", "collection.cli", "reroll", str(self.build_dir), "--from-review", "--no-progress",
               *self.reroll_args]
        threading.Thread(target=self._run, args=(cmd,), name="review-reroll", daemon=True).start()

    def _run(self, cmd: list[str]) -> None:
        try:
            p = subprocess.run(cmd, capture_output=True, text=True, env=os.environ.copy())
            out, rc = p.stdout + p.stderr, p.returncode
        except Exception as e:  # the page must hear about it rather than spin forever
            out, rc = f"{type(e).__name__}: {e}", 1
        with self.job.lock:
            self.job.running, self.job.returncode, self.job.output = False, rc, out
            self.job.runs += 1


def _handler(server: ReviewServer):
    class Handler(BaseHTTPRequestHandler):
        server_version = "roboz-review"
        sys_version = ""

        def log_message(self, fmt, *args):  # the URL carries the secret: never log requests
            pass

        # -- plumbing --

        def _send(self, code: int, body: bytes, ctype: str, extra: dict[str, str] | None = None) -> None:
            self.send_response(code)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Cache-Control", "no-store")
            self.send_header("Referrer-Policy", "no-referrer")
            self.send_header("X-Content-Type-Options", "nosniff")
            self.send_header("X-Frame-Options", "DENY")
            for k, v in (extra or {}).items():
                self.send_header(k, v)
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)

        def _json(self, code: int, obj: Any) -> None:
            self._send(code, json.dumps(obj, allow_nan=False).encode(), "application/json")

        def _refuse(self, code: int = 403, why: str = "forbidden") -> None:
            self._send(code, why.encode() + b"\n", "text/plain; charset=utf-8")

        def _route(self) -> str | None:
            """The path after /SECRET/, or None (refused) when the secret or host is wrong."""
            if self.headers.get("Host") not in server.hosts:
                return None
            path = self.path.split("?", 1)[0]
            parts = path.split("/", 2)  # "", secret, rest
            if len(parts) < 3 or not hmac.compare_digest(parts[1].encode(), server.secret.encode()):
                return None
            return parts[2]

        # -- methods --

        def do_GET(self) -> None:
            rest = self._route()
            if rest is None:
                return self._refuse()
            if rest == "":
                return self._send(200, _page(), "text/html; charset=utf-8", {"Content-Security-Policy": CSP})
            if rest == "page.js":
                return self._send(200, (HERE / "page.js").read_bytes(), "text/javascript; charset=utf-8")
            if rest == "api/state":
                return self._json(200, build_state(server.build_dir, server.job))
            if rest.startswith("files/"):
                return self._file(rest[len("files/"):])
            return self._refuse(404, "not found")

        do_HEAD = do_GET

        def _file(self, rel: str) -> None:
            m = FILE_RE.match(rel)
            if not m:
                return self._refuse(404, "not found")
            p = server.build_dir / rel
            try:
                data = p.read_bytes()
            except (FileNotFoundError, IsADirectoryError):
                return self._refuse(404, "not found")
            self._send(200, data, "image/png")

        def do_POST(self) -> None:
            rest = self._route()
            if rest is None:
                return self._refuse()
            origin = self.headers.get("Origin")
            if origin is not None and origin not in server.origins:
                return self._refuse()
            if not (self.headers.get("Content-Type") or "").startswith("application/json"):
                return self._refuse(415, "send JSON")
            n = int(self.headers.get("Content-Length") or 0)
            if n > MAX_BODY:
                return self._refuse(413, "too large")
            try:
                body = json.loads(self.rfile.read(n) or b"{}")
            except json.JSONDecodeError:
                return self._refuse(400, "bad JSON")
            try:
                if rest == "api/decision":
                    server.decide(body if isinstance(body, dict) else {})
                elif rest == "api/apply":
                    server.apply()
                else:
                    return self._refuse(404, "not found")
            except (ValueError, RuntimeError) as e:
                return self._json(409 if isinstance(e, RuntimeError) else 400, {"error": str(e)})
            self._json(200, build_state(server.build_dir, server.job))

        def do_PUT(self) -> None:
            self._refuse(405, "method not allowed")

        do_DELETE = do_PATCH = do_OPTIONS = do_PUT

    return Handler


CSP = ("default-src 'none'; script-src 'self'; connect-src 'self'; img-src 'self'; style-src 'unsafe-inline'; "
       "base-uri 'none'; form-action 'none'; frame-ancestors 'none'")


def public_origin(text: str) -> str:
    """An origin to trust, normalised ("https://host" or "http://host:port"), or ValueError saying why
    not. Only a bare origin: no path, query, credentials or wildcard, so the allowance stays narrow."""
    try:
        u = urlsplit(text.strip())
        port = u.port
    except ValueError:
        raise ValueError(f"public origin {text!r} is not a URL") from None
    if u.scheme not in ("http", "https") or not u.hostname:
        raise ValueError(f"public origin {text!r} must be http(s)://HOST[:PORT]")
    if u.username or u.password or "*" in u.netloc or u.path not in ("", "/") or u.query or u.fragment:
        raise ValueError(f"public origin {text!r} must be an origin alone (scheme, host, port): no path, credentials or wildcard")
    default = {"http": 80, "https": 443}[u.scheme]
    return f"{u.scheme}://{u.hostname}" + (f":{port}" if port not in (None, default) else "")


def _page() -> bytes:
    return (HERE / "page.html").read_bytes()


__all__ = ["ReviewServer", "build_state", "public_origin"]
