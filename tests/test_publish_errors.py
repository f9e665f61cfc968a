"""publish off the happy path: a node that is not there, answers garbage, or never answers; and
credentials in the API address never reach the screen or a file."""

from __future__ import annotations

import base64
import socket
import subprocess
import sys

import pytest

from metadata.build import write_metadata
from metadata.publish import publish
from metadata.publishers import PublishError, RetryPolicy, make_publisher


class Sleeps(list):
    def __call__(self, s):
        self.append(s)


@pytest.fixture
def built(build_dir):
    write_metadata(build_dir, log=lambda s: None)
    return build_dir


def _closed_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()  # nothing listens there now: a connection is refused
    return port


def test_refused_connection_fails_at_once_with_the_url_and_the_fix(built):
    sleeps = Sleeps()
    api = f"http://127.0.0.1:{_closed_port()}"
    pub = make_publisher("kubo", None, api=api, policy=RetryPolicy(sleep=sleeps))
    with pytest.raises(PublishError) as e:
        publish(built, pub, log=lambda s: None)
    assert sleeps == []                                  # not retried
    assert e.value.message == f"kubo pin/ls: cannot reach {api}/api/v0/pin/ls (connection refused)"
    assert "is `ipfs daemon` running?" in e.value.hint and "--api" in e.value.hint


def test_unknown_host_fails_at_once(built):
    sleeps = Sleeps()
    pub = make_publisher("kubo", None, api="http://no-such-host.invalid:5001", policy=RetryPolicy(sleep=sleeps))
    with pytest.raises(PublishError, match="does not resolve"):
        publish(built, pub, log=lambda s: None)
    assert sleeps == []


@pytest.mark.parametrize("endpoint", ["pin/ls", "dag/import"])
def test_non_json_answer_is_one_line_naming_the_endpoint_and_the_body(built, fake_ipfs, endpoint):
    fake_ipfs.faults[endpoint] = ["garbage"]
    pub = make_publisher("kubo", None, api=fake_ipfs.url, policy=RetryPolicy(sleep=Sleeps()))
    with pytest.raises(PublishError) as e:
        publish(built, pub, log=lambda s: None)
    msg = e.value.message
    assert f"{fake_ipfs.url}/api/v0/{endpoint}" in msg and "answered HTTP 200 with text/html that is not JSON" in msg
    assert "IPFS gateway" in msg and "\n" not in msg and "--api" in e.value.hint


@pytest.mark.parametrize("endpoint,expected", [("pin/ls", '"Keys" object'), ("dag/import", '"Root"')])
def test_json_of_the_wrong_shape_is_one_line(built, fake_ipfs, endpoint, expected):
    fake_ipfs.faults[endpoint] = ["shape"]
    pub = make_publisher("kubo", None, api=fake_ipfs.url, policy=RetryPolicy(sleep=Sleeps()))
    with pytest.raises(PublishError, match=f"answered JSON without .*{expected}"):
        publish(built, pub, log=lambda s: None)


def test_pinata_non_json_answer(built, fake_ipfs, monkeypatch):
    monkeypatch.setenv("PINATA_JWT", fake_ipfs.jwt)
    fake_ipfs.faults["pinata/upload"] = ["garbage"]
    pub = make_publisher("pinata", None, api=fake_ipfs.url, policy=RetryPolicy(sleep=Sleeps()))
    with pytest.raises(PublishError, match=r"pinata upload images\.car at .*/v3/files answered HTTP 200 with text/html"):
        publish(built, pub, log=lambda s: None)


def test_a_node_that_never_answers_is_bounded_and_never_silent(built, fake_ipfs):
    fake_ipfs.faults["dag/import"] = ["hang"] * 20
    logs: list[str] = []
    policy = RetryPolicy(sleep=Sleeps(), base_delay=0.01, read_timeout=0.3, deadline=1.0, progress_every=0.1)
    pub = make_publisher("kubo", None, api=fake_ipfs.url, policy=policy)
    with pytest.raises(PublishError) as e:
        publish(built, pub, log=logs.append)
    assert "no answer within the read timeout (0.3 s of silence), 2 times" in e.value.message
    assert any("waiting for the answer" in line and "gives up at" in line for line in logs)  # progress, with its end
    assert sum(1 for e_, o in fake_ipfs.calls if o == "hang") == 2   # retried once, then given up on


def test_credentials_in_the_api_url_are_used_but_never_shown_or_written(built, fake_ipfs):
    secret = "S3cretPw9"
    host = fake_ipfs.url.removeprefix("http://")
    api = f"http://alice:{secret}@{host}"
    code = ("import sys; from collection.cli import main; "
            "sys.exit(main(['publish', sys.argv[1], '--to', 'kubo', '--api', sys.argv[2]]))")
    out = subprocess.run([sys.executable, "-c", code, str(built), api], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    # the node got the credentials as HTTP basic auth ...
    assert f"Basic {base64.b64encode(f'alice:{secret}'.encode()).decode()}" in fake_ipfs.auth
    # ... and nothing the tool printed or wrote holds them
    assert secret not in out.stdout + out.stderr
    written = [p for p in built.rglob("*") if p.is_file()]
    assert any(p.name == "publish.json" for p in written)
    for p in written:
        assert secret.encode() not in p.read_bytes(), p
    assert f"http://***@{host}" in (built / "publish.json").read_text()
    # a failure message shows the address redacted as well
    refused = f"http://alice:{secret}@127.0.0.1:{_closed_port()}"
    out = subprocess.run([sys.executable, "-c", code, str(built), refused], capture_output=True, text=True)
    assert out.returncode == 1 and "connection refused" in out.stderr and "is `ipfs daemon` running?" in out.stderr
    assert secret not in out.stdout + out.stderr and "Traceback" not in out.stderr


@pytest.mark.parametrize("api", ["127.0.0.1:5001", "ftp://host/", "http://", "http://u:S3cretPw9@[::1"])
def test_an_api_address_that_is_not_http_is_refused_before_any_request(api):
    with pytest.raises(PublishError, match="--api must be an http") as e:
        make_publisher("kubo", None, api=api)
    assert e.value.exit_code == 2 and "S3cretPw9" not in e.value.message


def test_after_an_edited_image_the_hint_names_what_metadata_accepts(built):
    from PIL import Image

    def cli(*args):
        return subprocess.run([sys.executable, "-m", "collection.cli", *args], capture_output=True, text=True)

    Image.new("RGB", (16, 16), (9, 9, 9)).save(built / "images" / "3.png")   # retouched by hand
    p = cli("publish", str(built), "--to", "car")
    assert p.returncode != 0 and "Traceback" not in p.stderr
    hint = p.stderr.split("hint: ", 1)[1]
    assert f"roboz-collection metadata {built} --accept-edited 3" in hint and "roboz-collection render" in hint
    # ... and that is what the next command takes: the hint's command works, then publish does
    assert cli("metadata", str(built)).returncode != 0          # without the flag: refused, as before
    assert cli("metadata", str(built), "--accept-edited", "3").returncode == 0
    assert cli("publish", str(built), "--to", "car").returncode == 0
