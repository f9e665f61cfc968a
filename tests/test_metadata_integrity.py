"""metadata and publish refuse images that are not what the renderer wrote (renders/{id}.json
image_sha256), name the file and the fix, and record an explicit acceptance."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from buildfiles.errors import UserError
from metadata.build import write_metadata
from metadata.integrity import IntegrityError
from metadata.publish import publish
from metadata.publishers.car import CarPublisher
from tests.fixtures_ipfs import make_build_dir


def _truncate(build, tid=3):
    p = build / "images" / f"{tid}.png"
    p.write_bytes(p.read_bytes()[:40])


def _record(build, tid):
    return json.loads((build / "renders" / f"{tid}.json").read_text())


def test_truncated_image_stops_metadata_naming_it_and_both_fixes(build_dir):
    _truncate(build_dir)
    with pytest.raises(IntegrityError) as e:
        write_metadata(build_dir, log=lambda s: None)
    assert "images/3.png differs from the image the renderer wrote" in e.value.message
    assert "roboz-collection render" in e.value.hint and "--accept-edited 3" in e.value.hint
    assert not (build_dir / "cids.json").exists() and not (build_dir / "provenance.json").exists()


def test_a_broken_image_cannot_be_accepted(build_dir):
    _truncate(build_dir)
    with pytest.raises(IntegrityError, match="cannot be accepted: not a whole image"):
        write_metadata(build_dir, accept_edited=[3], log=lambda s: None)


def test_an_accepted_edit_is_recorded_and_then_trusted(build_dir):
    from PIL import Image

    Image.new("RGB", (16, 16), (1, 1, 1)).save(build_dir / "images" / "2.png")  # the artist's retouch
    logs = []
    write_metadata(build_dir, accept_edited=[2], log=logs.append)
    rec = _record(build_dir, 2)
    (entry,) = rec["accepted_edits"]
    assert entry["by"] == "metadata --accept-edited" and entry["accepted_sha256"] == rec["image_sha256"]
    assert entry["rendered_sha256"] != rec["image_sha256"]
    assert any("accepted edited image(s) 2" in line for line in logs)
    again = write_metadata(build_dir, log=lambda s: None)   # no flag needed any more
    assert again.written == ()
    publish(build_dir, CarPublisher(), log=lambda s: None)  # and publish agrees


def test_accepting_an_unknown_token_is_refused(build_dir):
    with pytest.raises(UserError, match=r"token\(s\) \[99\] not in the plan"):
        write_metadata(build_dir, accept_edited=[99], log=lambda s: None)


def test_records_without_sha256_fall_back_to_decoding(tmp_path):
    build = make_build_dir(tmp_path, legacy_records=True)
    logs = []
    write_metadata(build, log=logs.append)
    assert any("checked by decoding only" in line for line in logs)
    _truncate(build, 4)
    with pytest.raises(IntegrityError, match=r"images/4\.png is not a whole image"):
        write_metadata(build, log=lambda s: None)


def test_publish_checks_images_and_animations_against_the_records(build_dir):
    write_metadata(build_dir, log=lambda s: None)
    rec = _record(build_dir, 2)
    rec["animation_sha256"] = "00" * 32
    (build_dir / "renders" / "2.json").write_text(json.dumps(rec))
    with pytest.raises(IntegrityError, match=r"animations/2\.mp4 differs from the video the renderer wrote"):
        publish(build_dir, CarPublisher(), log=lambda s: None)
    rec.pop("animation_sha256")
    rec["image_sha256"] = "11" * 32       # a re-render metadata has not seen
    (build_dir / "renders" / "2.json").write_text(json.dumps(rec))
    with pytest.raises(IntegrityError, match=r"images/2\.png differs"):
        publish(build_dir, CarPublisher(), log=lambda s: None)
    assert not (build_dir / "car").exists()


def test_a_garbled_render_record_is_one_line(build_dir):
    (build_dir / "renders" / "3.json").write_text("{trunc")
    with pytest.raises(UserError) as e:
        write_metadata(build_dir, log=lambda s: None)
    assert "renders/3.json" in e.value.message and e.value.hint


def test_external_url_must_be_http(tmp_path):
    build = make_build_dir(tmp_path)
    plan = json.loads((build / "plan.json").read_text())
    plan["collection"]["external_url"] = "javascript:alert(document.cookie)//{id}"
    (build / "plan.json").write_text(json.dumps(plan))
    with pytest.raises(UserError, match="external_url must be an http"):
        write_metadata(build, log=lambda s: None)
    assert not (build / "metadata").exists()


def test_collection_image_is_checked_against_the_plan(tmp_path):
    build = make_build_dir(tmp_path, collection_image=True)
    plan = json.loads((build / "plan.json").read_text())
    plan["inputs"] = {"inputs/cover.png": "22" * 32}
    (build / "plan.json").write_text(json.dumps(plan))
    with pytest.raises(UserError, match=r"inputs/cover\.png differs from the file planned"):
        write_metadata(build, log=lambda s: None)


def test_cli_accept_flag_and_one_line_errors(build_dir):
    from PIL import Image

    Image.new("RGB", (16, 16), (1, 1, 1)).save(build_dir / "images" / "5.png")
    run = lambda *a: subprocess.run([sys.executable, "-m", "collection.cli", "metadata", str(build_dir), *a],  # noqa: E731
                                    capture_output=True, text=True)
    out = run()
    assert out.returncode == 1 and "Traceback" not in out.stderr
    assert out.stderr.startswith("error: 1 file(s) changed since they were rendered: images/5.png")
    assert run("--accept-edited", "x").returncode == 2
    ok = run("--accept-edited", "5")
    assert ok.returncode == 0, ok.stderr
    assert "accepted edited image(s) 5" in ok.stdout
