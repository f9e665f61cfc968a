"""publish against a real HTTP server on 127.0.0.1 speaking Kubo RPC and Pinata, with faults."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from buildfiles.errors import UserError
from metadata.build import write_metadata
from metadata.publish import publish
from metadata.publishers import PublishError, RetryPolicy, make_publisher
from tests.fixtures_ipfs import parse_car, repaint


class Sleeps(list):
    def __call__(self, s):
        self.append(s)


@pytest.fixture
def built(build_dir):
    write_metadata(build_dir)
    return build_dir


def _kubo(fake, sleeps=None, attempts=6):
    return make_publisher("kubo", None, api=fake.url, policy=RetryPolicy(attempts=attempts, sleep=Sleeps() if sleeps is None else sleeps))


def _cids(build: Path) -> dict:
    return json.loads((build / "cids.json").read_text())


def test_kubo_imports_pins_and_records(built, fake_ipfs):
    logs = []
    r = publish(built, _kubo(fake_ipfs), log=logs.append)
    cids = _cids(built)
    assert {cids["images_cid"], cids["animations_cid"], cids["metadata_cid"]} <= fake_ipfs.pins
    assert fake_ipfs.errors == []
    assert fake_ipfs.uploads("dag/import") == 3
    rec = json.loads((built / "publish.json").read_text())
    assert rec["provider"] == "kubo" and rec["endpoint"] == fake_ipfs.url
    assert rec["metadata_cid"] == cids["metadata_cid"] and rec["base_uri"] == f"ipfs://{cids['metadata_cid']}/"
    assert rec["contract_uri"] == cids["contract_uri"] and rec["uploaded_at"]
    assert r.uploaded == ("images", "animations", "metadata")
    # every token JSON the node now holds points at the images root it also holds
    md1 = json.loads((built / "metadata" / "1.json").read_text())
    assert md1["image"].split("/")[2] in fake_ipfs.pins


def test_rerun_uploads_nothing_and_says_so(built, fake_ipfs):
    publish(built, _kubo(fake_ipfs), log=lambda s: None)
    before = (built / "publish.json").read_bytes()
    logs = []
    r = publish(built, _kubo(fake_ipfs), log=logs.append)
    assert r.uploaded == ()
    assert fake_ipfs.uploads("dag/import") == 3
    assert any("nothing to upload" in line for line in logs)
    assert any("publish.json unchanged" in line for line in logs)
    assert (built / "publish.json").read_bytes() == before


def test_500s_are_retried_with_backoff(built, fake_ipfs):
    fake_ipfs.faults["dag/import"] = ["500", "500"]
    sleeps = Sleeps()
    publish(built, _kubo(fake_ipfs, sleeps), log=lambda s: None)
    assert sleeps == [1.0, 2.0]                      # exponential backoff
    assert fake_ipfs.uploads("dag/import") == 3


def test_429_honours_retry_after(built, fake_ipfs):
    fake_ipfs.faults["dag/import"] = ["429"]
    fake_ipfs.retry_after = "7"
    sleeps = Sleeps()
    publish(built, _kubo(fake_ipfs, sleeps), log=lambda s: None)
    assert sleeps == [7.0]
    assert len(fake_ipfs.pins) == 3


def test_connection_dropped_mid_upload_is_retried(built, fake_ipfs):
    fake_ipfs.faults["dag/import"] = ["drop"]
    sleeps = Sleeps()
    publish(built, _kubo(fake_ipfs, sleeps), log=lambda s: None)
    assert ("dag/import", "drop") in fake_ipfs.calls
    assert len(sleeps) == 1 and fake_ipfs.uploads("dag/import") == 3
    assert fake_ipfs.errors == []


def test_a_different_cid_from_the_server_is_an_error(built, fake_ipfs):
    fake_ipfs.faults["dag/import"] = ["wrong_cid"]
    with pytest.raises(PublishError, match="kubo reported root") as e:
        publish(built, _kubo(fake_ipfs), log=lambda s: None)
    assert "never accepted" in e.value.hint
    assert not (built / "publish.json").exists()


def test_persistent_failure_gives_up_with_a_clear_error(built, fake_ipfs):
    fake_ipfs.faults["dag/import"] = ["500"] * 10
    with pytest.raises(PublishError, match=r"failed after 3 attempts: HTTP 500"):
        publish(built, _kubo(fake_ipfs, attempts=3), log=lambda s: None)


def test_partial_publish_resumes_where_it_stopped(built, fake_ipfs):
    fake_ipfs.faults["dag/import"] = [None, "500", "500", "500"]  # images ok, then animations keeps failing
    with pytest.raises(PublishError):
        publish(built, _kubo(fake_ipfs, attempts=3), log=lambda s: None)
    assert fake_ipfs.uploads("dag/import") == 1
    r = publish(built, _kubo(fake_ipfs), log=lambda s: None)
    assert r.uploaded == ("animations", "metadata")   # images were already pinned


def test_pinata_uploads_cars_with_the_jwt_and_never_prints_it(built, fake_ipfs, monkeypatch, capsys):
    monkeypatch.setenv("PINATA_JWT", fake_ipfs.jwt)
    fake_ipfs.faults["pinata/upload"] = ["429"]
    sleeps = Sleeps()
    pub = make_publisher("pinata", None, api=fake_ipfs.url, policy=RetryPolicy(sleep=sleeps))
    publish(built, pub)
    assert sleeps == [2.0]
    cids = _cids(built)
    assert cids["metadata_cid"] in fake_ipfs.pins and fake_ipfs.errors == []
    out = capsys.readouterr()
    assert fake_ipfs.jwt not in out.out + out.err + repr(pub)
    assert fake_ipfs.jwt not in (built / "publish.json").read_text()
    # again: Pinata already lists every root, nothing is sent
    publish(built, pub, log=lambda s: None)
    assert fake_ipfs.uploads("pinata/upload") == 3


def test_pinata_wrong_cid_and_missing_or_bad_jwt(built, fake_ipfs, monkeypatch):
    monkeypatch.delenv("PINATA_JWT", raising=False)
    with pytest.raises(UserError, match="PINATA_JWT is not set"):
        make_publisher("pinata", None, api=fake_ipfs.url)
    monkeypatch.setenv("PINATA_JWT", "wrong-token")
    with pytest.raises(PublishError, match="refused") as e:
        publish(built, make_publisher("pinata", None, api=fake_ipfs.url), log=lambda s: None)
    assert "wrong-token" not in str(e.value)
    monkeypatch.setenv("PINATA_JWT", fake_ipfs.jwt)
    fake_ipfs.faults["pinata/upload"] = ["wrong_cid"]
    with pytest.raises(PublishError, match="Pinata reported CID bafk") as e:
        publish(built, make_publisher("pinata", None, api=fake_ipfs.url), log=lambda s: None)
    assert "never accepted" in e.value.hint


def test_car_provider_writes_verified_cars_and_reuses_them(built, ipfs_car):
    from metadata.publishers.car import CarPublisher

    logs = []
    publish(built, CarPublisher(), log=logs.append)
    cids = _cids(built)
    for name in ("images", "animations", "metadata"):
        roots, blocks = parse_car((built / "car" / f"{name}.car").read_bytes())
        assert roots == [cids[f"{name}_cid"]]
        assert ipfs_car("roots", built / "car" / f"{name}.car") == cids[f"{name}_cid"]
    rec = json.loads((built / "publish.json").read_text())
    assert rec["cars"]["metadata"] == "car/metadata.car"
    logs.clear()
    publish(built, CarPublisher(), log=logs.append)
    assert sum("reusing" in line for line in logs) == 3
    assert any("publish.json unchanged" in line for line in logs)


def test_image_edited_after_metadata_is_named_and_refused(built, fake_ipfs):
    (built / "images" / "3.png").write_bytes((built / "images" / "3.png").read_bytes() + b"\0")
    with pytest.raises(UserError, match=r"images/3\.png changed") as e:
        publish(built, _kubo(fake_ipfs), log=lambda s: None)
    assert "metadata" in e.value.hint
    assert fake_ipfs.uploads("dag/import") == 0


def test_changes_since_last_publish_are_explained(built, fake_ipfs):
    publish(built, _kubo(fake_ipfs), log=lambda s: None)
    old = _cids(built)["metadata_cid"]
    repaint(built, 3, (9, 9, 9))
    write_metadata(built)
    logs = []
    r = publish(built, _kubo(fake_ipfs), log=logs.append)
    text = "\n".join(logs)
    assert "images/3.png changed" in text and "metadata/3.json changed" in text
    assert old in text and r.uploaded == ("images", "metadata")  # animations unchanged, already pinned
    assert "images/3.png changed" in r.changed_since_last


def test_cli_publish_car_without_torch(built):
    code = (
        "import sys; from collection.cli import main; rc = main(['publish', sys.argv[1], '--to', 'car']); "
        "assert 'torch' not in sys.modules, 'publish imported torch'; sys.exit(rc)"
    )
    out = subprocess.run([sys.executable, "-c", code, str(built)], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert f"base URI    ipfs://{_cids(built)['metadata_cid']}/" in out.stdout


def test_cli_publish_reports_user_errors_without_traceback(tmp_path):
    out = subprocess.run([sys.executable, "-m", "collection.cli", "publish", str(tmp_path), "--to", "car"],
                         capture_output=True, text=True)
    assert out.returncode != 0
    assert out.stderr.startswith("error:") and "Traceback" not in out.stderr


def test_provenance_json_that_does_not_match_the_images_is_refused(built, fake_ipfs):
    raw = json.loads((built / "provenance.json").read_text())
    raw["images"][2]["sha256"] = "ee" * 32
    (built / "provenance.json").write_text(json.dumps(raw))
    with pytest.raises(UserError, match=r"provenance\.json does not match the images") as e:
        publish(built, _kubo(fake_ipfs), log=lambda s: None)
    assert "metadata" in e.value.hint and fake_ipfs.uploads("dag/import") == 0
