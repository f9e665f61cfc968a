"""`review`: the page in Debian's chromium (Playwright), the server's refusals, decisions applied by `reroll`.

Needs `apt-get install chromium`; skipped without it on a developer machine, fails under CI.
Set ROBOZ_REVIEW_SCREENSHOT=path to save a screenshot of the page (docs/review.png comes from it).
"""

from __future__ import annotations

import http.client
import json
import os
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

from collection.render.render_step import render_build
from collection.render.reroll import reroll_seed
from collection.review.server import ReviewServer
from tests.fixtures_preview import browser  # noqa: F401  (fixture: Debian chromium, as the gallery tests)

TOKENS = [{"prompt": "a rusty robot", "seed": 11}, {"prompt": "a robot dog", "seed": 22},
          {"prompt": "a red robot with a lightsaber", "seed": 33}, {"prompt": "a golden robot surfing", "seed": 44}]


def snapshot(build: Path) -> dict[str, bytes]:
    return {str(p.relative_to(build)): p.read_bytes() for d in ("images", "renders", "candidates", "snapshots")
            for p in sorted((build / d).rglob("*")) if p.is_file()}


def status(url: str, method: str = "GET", host: str | None = None, body: bytes | None = None) -> int:
    u = urllib.parse.urlsplit(url)
    c = http.client.HTTPConnection(u.hostname, u.port, timeout=10)
    headers = {"Host": host} if host else {}
    if body is not None:
        headers["Content-Type"] = "application/json"
    c.request(method, u.path or "/", body=body, headers=headers)
    r = c.getresponse()
    r.read()
    c.close()
    return r.status


@pytest.fixture
def reviewed_build(make_build):
    build = make_build({"size": [48, 48], "iterations": 8, "snapshots": [4, 8], "candidates": 2}, TOKENS)
    assert sorted(render_build(build, progress=False).rendered) == [1, 2, 3, 4]
    return build


def test_requests_without_the_secret_are_refused(reviewed_build):
    with ReviewServer(reviewed_build) as s:
        assert s.host == "127.0.0.1" and s.port > 0 and len(s.secret) >= 32
        assert status(s.url + "api/state") == 200
        assert status(s.url + "files/images/1.png") == 200
        for bad in (s.origin + "/", s.origin + "/api/state", s.origin + "/files/images/1.png",
                    s.origin + "/" + s.secret[:-1] + "/api/state", s.origin + "/x" + s.secret + "/",
                    s.origin + "/" + s.secret):
            assert status(bad) == 403, bad
        assert status(s.origin + "/api/apply", "POST", body=b"{}") == 403
        assert status(s.origin + "/api/decision", "POST", body=b'{"id": 1, "decision": "reject"}') == 403
        # with the secret, still nothing but the page, its API and the tokens' PNGs
        for other in ("files/plan.json", "files/../plan.json", "files/images/../plan.json", "files/state.sqlite",
                      "files/images/1.png/", "plan.json", "review.json", "files/images/99.png"):
            assert status(s.url + other) in (403, 404), other
        # a page on another host name (DNS rebinding) cannot use the browser to reach it
        assert status(s.url + "api/state", host="evil.example:80") == 403
        assert not (reviewed_build / "review.json").exists() and not (reviewed_build / "rerolls.json").exists()


def test_reject_two_in_the_page_rerenders_exactly_those(browser, reviewed_build):
    build = reviewed_build
    before = snapshot(build)
    with ReviewServer(build, reroll_args=["--device", "cpu"]) as s:
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        # every request the page makes carries the secret (the browser's own /favicon.ico is refused, rightly)
        page.on("response", lambda r: errors.append(f"{r.status} {r.url}")
                if r.status >= 400 and not r.url.endswith("/favicon.ico") else None)
        page.goto(s.url)
        page.wait_for_selector("body[data-ready=true]")
        assert page.locator("article.card").count() == 4
        # best-of-2: both candidates shown; snapshots side by side with the final image, no duplicate final tile
        assert page.locator('article.card[data-id="1"] .cands:not(.snaps) .cand').count() == 2
        snaps = page.locator('article.card[data-id="1"] .snaps .cand')
        assert [snaps.nth(i).text_content() for i in range(snaps.count())] == ["it 4", "it 8 · final"]
        assert page.locator("#apply").is_disabled()
        for tid in (2, 3):
            page.click(f'article.card[data-id="{tid}"] button.reject')
            page.wait_for_selector(f'article.card.reject[data-id="{tid}"]')
        page.click('article.card[data-id="1"] button.keep')
        page.wait_for_selector('article.card.keep[data-id="1"]')
        assert page.locator("#summary").text_content() == "4 tokens · 1 kept · 2 rejected · 0 picked"
        decided = json.loads((build / "review.json").read_text())
        assert decided["tokens"] == {"1": {"decision": "keep"}, "2": {"decision": "reject"}, "3": {"decision": "reject"}}
        old_src = page.get_attribute('article.card[data-id="2"] img.art', "src")

        page.click("#apply")
        page.wait_for_function("() => document.body.dataset.runs === '1'", timeout=240_000)
        assert "done" in page.locator("#status").text_content(), page.locator("#status").text_content()
        after = snapshot(build)
        new_seeds = {}
        for tid, base in ((2, 22), (3, 33)):
            rec = json.loads(after[f"renders/{tid}.json"])
            new_seeds[tid] = rec["seed"]
            # a re-rolled best-of-2 token keeps the better of its new seed's two candidates
            assert reroll_seed(base, 1) in [c["seed"] for c in rec["candidates"]]
            assert after[f"images/{tid}.png"] != before[f"images/{tid}.png"]
        unchanged = {k: v for k, v in before.items() if k.split("/")[1].split(".")[0] in ("1", "4")}
        assert unchanged and all(after[k] == v for k, v in unchanged.items())  # byte-identical
        assert {k for k in after if k.split("/")[1].split(".")[0] in ("1", "4")} == set(unchanged)
        # decisions were applied (and left review.json); the keep stays
        assert json.loads((build / "review.json").read_text())["tokens"] == {"1": {"decision": "keep"}}
        page.wait_for_function("() => !document.querySelector('article.card.reject')")
        assert page.get_attribute('article.card[data-id="2"] img.art', "src") != old_src
        assert f"seed {new_seeds[2]}" in page.locator('article.card[data-id="2"] .meta').text_content()

        # pick another candidate: token 4 renders exactly that seed in full (pinned, no best-of-K)
        round1 = snapshot(build)
        other = next(c["seed"] for c in json.loads(round1["renders/4.json"])["candidates"]
                     if c["seed"] != json.loads(round1["renders/4.json"])["seed"])
        page.click(f'article.card[data-id="4"] .cand[data-seed="{other}"] button.pick')  # noqa: E501
        page.wait_for_selector('article.card.pick[data-id="4"]')
        page.click("#apply")
        page.wait_for_function("() => document.body.dataset.runs === '2'", timeout=240_000)
        round2 = snapshot(build)
        rec4 = json.loads(round2["renders/4.json"])
        assert rec4["seed"] == other and "candidates" not in rec4 and rec4["iterations"] == 8
        assert all(round2[k] == v for k, v in round1.items() if k.split("/")[1].split(".")[0] != "4")
        assert f"seed {other}" in page.locator('article.card[data-id="4"] .meta').text_content()
        winner4 = json.loads(round1["renders/4.json"])["seed"]
        assert page.locator("#status").text_content() == f"done: token 4: seed {winner4} -> {other} (pinned)"
        assert errors == []
        shot = os.environ.get("ROBOZ_REVIEW_SCREENSHOT")
        if shot:
            page.click('article.card[data-id="2"] button.reject')
            page.click('article.card[data-id="3"] .cand button.pick')
            page.wait_for_selector('article.card.pick[data-id="3"]')
            page.screenshot(path=shot, full_page=True)
        page.close()


def test_review_command_prints_its_url_serves_and_stops_on_ctrl_c(make_build):
    import signal
    import subprocess
    import sys

    build = make_build({}, TOKENS[:2])  # planned, nothing rendered: the page shows placeholders
    proc = subprocess.Popen([sys.executable, "-m", "collection.cli", "review", str(build)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline()
        assert line.startswith("review page: http://127.0.0.1:"), (line, proc.stderr.read() if proc.poll() is not None else "")
        url = line.split(": ", 1)[1].strip()
        with urllib.request.urlopen(url + "api/state", timeout=10) as r:
            state = json.loads(r.read())
        assert [t["id"] for t in state["tokens"]] == [1, 2] and all(t["image"] is None for t in state["tokens"])
        origin = url.rsplit("/", 2)[0]
        assert status(origin + "/api/state") == 403
    finally:
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0 and "Traceback" not in err
