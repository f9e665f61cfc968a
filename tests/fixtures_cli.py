"""Every CLI run a test makes is checked for a Python traceback (issue 16: never a traceback in
normal use). Wraps subprocess.Popen.communicate (which subprocess.run uses too): when the command
runs `collection.cli` and its output is captured, a "Traceback" in it fails the test that ran it.
A test that wants one (`--debug`) says so with @pytest.mark.traceback_expected."""

from __future__ import annotations

import subprocess

import pytest

_seen: list[tuple[str, str]] = []


def _is_cli(args) -> bool:
    parts = args if isinstance(args, (list, tuple)) else [args]
    return any("collection.cli" in str(a) or str(a).endswith("roboz-collection") for a in parts)


_original = subprocess.Popen.communicate


def _communicate(self, *a, **kw):
    out, err = _original(self, *a, **kw)
    if _is_cli(self.args):
        for stream in (out, err):
            text = stream.decode("utf-8", "replace") if isinstance(stream, bytes) else (stream or "")
            if "Traceback (most recent call last)" in text:
                _seen.append((" ".join(map(str, self.args if isinstance(self.args, (list, tuple)) else [self.args])), text))
    return out, err


def pytest_configure(config):
    config.addinivalue_line("markers", "traceback_expected: this test's CLI runs may print a traceback (--debug)")
    subprocess.Popen.communicate = _communicate


def pytest_unconfigure(config):
    subprocess.Popen.communicate = _original


@pytest.fixture(autouse=True)
def _no_traceback_in_cli_output(request):
    _seen.clear()
    yield
    found = list(_seen)
    _seen.clear()
    if found and request.node.get_closest_marker("traceback_expected") is None:
        cmd, text = found[0]
        tail = text[text.index("Traceback"):][:2000]
        pytest.fail(f"a CLI run printed a traceback ({len(found)} run(s)); first: {cmd}\n{tail}", pytrace=False)
