"""buildfiles readers of cids.json, publish.json, provenance.json: typed, versioned, and every damaged
file is one line naming it and how to recover (never a traceback)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from buildfiles.cids import CIDS_FORMAT, load_cids, read_cids
from buildfiles.jsonfile import BuildFileError
from buildfiles.provenance import PROVENANCE_FORMAT, load_provenance
from buildfiles.published import PUBLISH_FORMAT, PublishRecord, load_publish, write_publish
from buildfiles.urls import redact_text, redact_url
from metadata.build import write_metadata

FILES = ("cids.json", "publish.json", "provenance.json")
LOADERS = {"cids.json": load_cids, "publish.json": load_publish, "provenance.json": load_provenance}


@pytest.fixture
def published(build_dir):
    from metadata.publish import publish
    from metadata.publishers.car import CarPublisher

    write_metadata(build_dir)
    publish(build_dir, CarPublisher(), log=lambda s: None)
    return build_dir


def test_written_files_carry_their_format_and_read_back_typed(published):
    c = read_cids(published)
    assert json.loads((published / "cids.json").read_text())["format"] == CIDS_FORMAT
    assert c.base_uri == f"ipfs://{c.metadata_cid}/" and c.contract_uri == f"ipfs://{c.metadata_cid}/collection.json"
    assert list(c.roots) == ["images", "animations", "metadata"]
    p = load_publish(published)
    assert json.loads((published / "publish.json").read_text())["format"] == PUBLISH_FORMAT
    assert p.provider == "car" and p.pins is False and p.metadata_cid == c.metadata_cid
    assert p.pinned_by(c.metadata_cid) == []          # CAR files on disk are not a pin
    prov = load_provenance(published)
    assert json.loads((published / "provenance.json").read_text())["format"] == PROVENANCE_FORMAT
    assert [e.id for e in prov.images] == [1, 2, 3, 4, 5] and len(prov.provenance_hash) == 64


DAMAGE = {
    "truncated": lambda text: text[: len(text) // 2],
    "empty": lambda text: "",
    "list": lambda text: "[1, 2]",
    "not utf-8": lambda text: b"\xff\xfe{".decode("latin-1"),
    "unknown version": lambda text: json.dumps(dict(json.loads(text), format="roboz-x/99")),
    "NaN": lambda text: text.replace('"format"', '"x": NaN, "format"', 1),
}


@pytest.mark.parametrize("name", FILES)
@pytest.mark.parametrize("how", list(DAMAGE))
def test_damaged_file_is_one_error_naming_it_and_the_fix(published, name, how):
    path = published / name
    data = DAMAGE[how](path.read_text())
    path.write_bytes(data.encode("latin-1") if how == "not utf-8" else data.encode())
    with pytest.raises(BuildFileError) as e:
        LOADERS[name](published)
    assert str(path) in e.value.message and "\n" not in e.value.message
    assert "roboz-collection" in e.value.hint
    if how == "unknown version":
        assert "roboz-x/99" in e.value.message


@pytest.mark.parametrize("name,field,value", [
    ("cids.json", "metadata_cid", "ipfs://x"),
    ("cids.json", "files", ["a"]),
    ("publish.json", "pins", "yes"),
    ("publish.json", "base_uri", "javascript:alert(1)"),
    ("publish.json", "targets", [1]),
    ("provenance.json", "provenance_hash", "abc"),
    ("provenance.json", "images", [{"id": "1", "sha256": "00"}]),
])
def test_wrong_field_types_name_the_field(published, name, field, value):
    path = published / name
    raw = json.loads(path.read_text())
    raw[field] = value
    path.write_text(json.dumps(raw))
    with pytest.raises(BuildFileError, match=repr(field)):
        LOADERS[name](published)


@pytest.mark.parametrize("name", FILES)
def test_cli_reports_a_garbled_file_without_traceback(published, name):
    (published / name).write_text('{"format": ')
    cmd = ["publish", str(published), "--to", "car"]
    out = subprocess.run([sys.executable, "-m", "collection.cli", *cmd], capture_output=True, text=True)
    assert out.returncode == 2, out.stderr
    assert "Traceback" not in out.stderr and name in out.stderr.splitlines()[0]


def test_publish_targets_remember_a_pinning_provider(published):
    c = read_cids(published)
    kubo = PublishRecord.of(provider="kubo", endpoint="http://u:S3CRET-pw@127.0.0.1:5001", pins=True, roots=c.roots,
                            files=c.files, cars=None, uploaded=("images",), uploaded_at="t1")
    write_publish(published, kubo)
    car = PublishRecord.of(provider="car", endpoint="car/", pins=False, roots=c.roots, files=c.files,
                           cars={"images": "car/images.car"}, previous=load_publish(published))
    write_publish(published, car)
    back = load_publish(published)
    assert back.provider == "car"
    assert [t.provider for t in back.pinned_by(c.metadata_cid)] == ["kubo"]
    assert back.for_target("kubo", "http://u:S3CRET-pw@127.0.0.1:5001").endpoint == "http://***@127.0.0.1:5001"
    assert "S3CRET" not in (published / "publish.json").read_text()


def test_legacy_files_without_format_still_read(tmp_path):
    (tmp_path / "publish.json").write_text(json.dumps({"provider": "kubo", "metadata_cid": "bafyabc",
                                                        "images_cid": "bafyimg"}))
    p = load_publish(tmp_path)
    assert p.pins is True and p.base_uri == "ipfs://bafyabc/" and p.contract_uri == "ipfs://bafyabc/collection.json"


def test_redaction_of_urls():
    assert redact_url("http://user:secret@host:5001/api") == "http://***@host:5001/api"
    assert redact_url("https://h/x?token=abc&arg=bafy") == "https://h/x?token=***&arg=bafy"
    assert redact_url("https://h/x?api-key=abc") == "https://h/x?api-key=***"
    assert redact_url("https://sepolia.infura.io/v3/0123456789abcdef0123") == "https://sepolia.infura.io/v3/***"
    assert redact_url("http://127.0.0.1:5001") == "http://127.0.0.1:5001"
    assert "secret" not in redact_text("failed: http://a:secret@h/api/v0/pin/ls?arg=x (refused)")


def test_strict_json_everywhere():
    from buildfiles.atomicio import dumps_json

    with pytest.raises(ValueError):
        dumps_json({"loss": float("inf")})
