"""The review server behind a proxy: a --public-origin is trusted exactly, nothing else is.

Colab serves a kernel's port from another origin (https://…-colab.googleusercontent.com);
the page must work from there while DNS-rebinding hosts and cross-origin posts stay refused.
Real HTTP against a real server on a real plan (no render needed for decisions).
"""

from __future__ import annotations

import http.client
import json

import pytest

from collection.cli import main
from collection.review.server import ReviewServer, public_origin

PROXY = "https://8765-m-s-abc123-colab.googleusercontent.com"


@pytest.fixture(scope="module")
def build(tmp_path_factory):
    d = tmp_path_factory.mktemp("proj")
    assert main(["init", str(d / "p")]) == 0
    assert main(["plan", str(d / "p" / "manifest.yaml")]) == 0
    return d / "p" / "build"


def _req(server, method, path, *, host, origin=None, body=None):
    c = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    headers = {"Host": host}
    if origin:
        headers["Origin"] = origin
    if body is not None:
        headers["Content-Type"] = "application/json"
    c.request(method, path, body=json.dumps(body) if body is not None else None, headers=headers)
    r = c.getresponse()
    data = r.read()
    c.close()
    return r.status, data


def test_a_public_origin_is_trusted_exactly_and_only_it(build):
    with ReviewServer(build, public_origins=[PROXY + "/"]) as s:
        page = f"/{s.secret}/"
        proxy_host = PROXY.removeprefix("https://")
        assert s.public_origins == (PROXY,)
        assert _req(s, "GET", page, host=proxy_host)[0] == 200
        assert _req(s, "GET", page, host=f"127.0.0.1:{s.port}")[0] == 200
        for bad in ("evil.example", proxy_host + ".evil.example", f"{proxy_host}:8443", "googleusercontent.com"):
            assert _req(s, "GET", page, host=bad)[0] == 403, bad
        decision = {"id": 1, "decision": "keep"}
        status, data = _req(s, "POST", page + "api/decision", host=proxy_host, origin=PROXY, body=decision)
        assert status == 200 and json.loads(data)["tokens"][0]["decision"] == {"decision": "keep"}
        for bad in ("https://evil.example", "http://" + proxy_host, PROXY + ":444", "null"):
            assert _req(s, "POST", page + "api/decision", host=proxy_host, origin=bad, body=decision)[0] == 403, bad
        assert _req(s, "GET", "/wrong-secret/", host=proxy_host)[0] == 403


def test_without_a_public_origin_the_proxy_is_refused(build):
    with ReviewServer(build) as s:
        assert _req(s, "GET", f"/{s.secret}/", host=PROXY.removeprefix("https://"))[0] == 403
        assert _req(s, "POST", f"/{s.secret}/api/decision", host=f"127.0.0.1:{s.port}", origin=PROXY,
                    body={"id": 1, "decision": "keep"})[0] == 403


@pytest.mark.parametrize("text, why", [
    ("https://*.googleusercontent.com", "wildcard"),
    ("https://host.example/SECRET/", "no path"),
    ("https://user:pw@host.example", "credentials"),
    ("ftp://host.example", "http(s)"),
    ("host.example", "http(s)"),
    ("https://host.example?x=1", "no path"),
])
def test_anything_but_a_bare_origin_is_refused(text, why):
    with pytest.raises(ValueError, match="public origin") as e:
        public_origin(text)
    assert why in str(e.value) or "must be" in str(e.value)


def test_origins_are_normalised():
    assert public_origin("HTTPS://Host.Example:443/") == "https://host.example"
    assert public_origin("http://localhost:8765") == "http://localhost:8765"


def test_review_command_refuses_a_wildcard_origin_in_one_line(build, capsys):
    assert main(["review", str(build), "--public-origin", "https://*.example"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: --public-origin: public origin 'https://*.example'") and "Traceback" not in err
