"""buildfiles.lock (one process per build directory, tried with real processes) and
buildfiles.records (renders/{id}.json)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest

from buildfiles.errors import UserError
from buildfiles.lock import LOCK_FILE, BuildLocked, build_lock, read_info
from buildfiles.records import (RECORD_FORMAT, RecordError, RenderRecord, image_matches, read_record, record_path,
                                write_record)

HOLDER = textwrap.dedent("""
    import sys, time
    from buildfiles.lock import build_lock
    with build_lock(sys.argv[1], sys.argv[2], create=True):
        print("LOCKED", flush=True)
        sys.stdin.read()          # hold until the test closes stdin (or kills us)
""")


def _holder(build, command="render"):
    p = subprocess.Popen([sys.executable, "-c", HOLDER, str(build), command], stdin=subprocess.PIPE,
                         stdout=subprocess.PIPE, text=True)
    assert p.stdout.readline().strip() == "LOCKED"
    return p


def test_a_second_process_is_refused_at_once_naming_the_holder(tmp_path):
    build = tmp_path / "build"
    holder = _holder(build, "render")
    try:
        # another real process (the CLI) on the same directory
        t0 = time.monotonic()
        r = subprocess.run([sys.executable, "-m", "collection.cli", "render", str(build), "--no-progress"],
                           capture_output=True, text=True, timeout=120)
        assert r.returncode != 0 and "Traceback" not in r.stderr
        line = r.stderr.splitlines()[0]
        assert line.startswith(f"error: {build} is in use by pid {holder.pid} ")
        assert "running `render` since" in line
        p = subprocess.run([sys.executable, "-m", "collection.cli", "preview", str(build)], capture_output=True,
                           text=True, timeout=120)
        assert p.returncode != 0 and f"is in use by pid {holder.pid} " in p.stderr and "`preview` needs it alone" in p.stderr
        # and within this process
        with pytest.raises(BuildLocked, match=f"pid {holder.pid}"):
            with build_lock(build, "mint"):
                pass
        assert time.monotonic() - t0 < 60  # refused, not queued behind the holder's stdin.read()
    finally:
        holder.stdin.close()
        holder.wait(timeout=30)
    # released: the note is gone, the lock is free
    assert read_info(build) is None
    with build_lock(build, "mint") as held:
        assert held.took_over is None and read_info(build).command == "mint"


def test_a_lock_left_by_a_killed_process_is_taken_over(tmp_path):
    build = tmp_path / "build"
    holder = _holder(build, "build")
    dead = holder.pid
    holder.send_signal(signal.SIGKILL)
    holder.wait(timeout=30)
    assert read_info(build).pid == dead  # its note is still there ...
    with build_lock(build, "render") as held:  # ... but the kernel dropped its lock
        assert held.took_over is not None and held.took_over.pid == dead
        assert read_info(build).pid == os.getpid()


def test_the_lock_is_reentrant_within_a_process(tmp_path):
    with build_lock(tmp_path, "build"):
        with build_lock(tmp_path, "render"):  # build runs render, metadata, preview
            assert read_info(tmp_path).command == "build"
        assert read_info(tmp_path).command == "build"
    assert (tmp_path / LOCK_FILE).exists() and read_info(tmp_path) is None


def _record(**kw):
    base = dict(id=3, seed=42, models="tiny", tiny=True, iterations=8, size=(32, 32), final_loss=0.5, seconds=1.25,
                device="cpu", settings={"iterations": 8}, prompt="a robot:1", image_sha256=None)
    return RenderRecord(**{**base, **kw})


def test_records_round_trip_keep_unknown_keys_and_check_the_image(tmp_path):
    from buildfiles.hashing import sha256_bytes

    (tmp_path / "images").mkdir()
    (tmp_path / "images" / "3.png").write_bytes(b"png bytes")
    rec = _record(image_sha256=sha256_bytes(b"png bytes"), extra={"reroll": 1}, final_loss=float("inf"))
    write_record(tmp_path, rec)
    raw = json.loads(record_path(tmp_path, 3).read_text())
    assert raw["format"] == RECORD_FORMAT and raw["final_loss"] is None and raw["reroll"] == 1 and raw["size"] == [32, 32]
    back = read_record(tmp_path, 3)
    assert back == _record(image_sha256=rec.image_sha256, extra={"reroll": 1}, final_loss=None)
    assert image_matches(tmp_path, back) is True
    (tmp_path / "images" / "3.png").write_bytes(b"png byte")  # truncated
    assert image_matches(tmp_path, back) is False
    (tmp_path / "images" / "3.png").unlink()
    assert image_matches(tmp_path, back) is False


def test_old_records_read_and_bad_ones_are_one_line(tmp_path):
    d = tmp_path / "renders"
    d.mkdir()
    # a record as written before the format existed (tests/fixtures_ipfs.py writes these too)
    (d / "1.json").write_text(json.dumps({"id": 1, "models": ["tiny-vqgan", "tiny-clip"], "tiny": True, "iterations": 20,
                                          "seed": 1001, "size": [16, 16], "final_loss": 0.5, "seconds": 1.0,
                                          "device": "cpu", "settings": {}}))
    old = read_record(tmp_path, 1)
    assert old.image_sha256 is None and old.models == ["tiny-vqgan", "tiny-clip"] and image_matches(tmp_path, old) is None
    (d / "2.json").write_text("{garbled")
    (d / "4.json").write_text(json.dumps({"format": "roboz-render/9", "id": 4}))
    (d / "5.json").write_text(json.dumps({"id": 5, "seed": 1}))
    (d / "6.json").write_text("[]")
    cases = {2: "is not valid JSON", 4: "unknown render record format 'roboz-render/9'", 5: "has no 'iterations'",
             6: "is not a JSON object", 7: "renders/7.json not found"}
    for tid, msg in cases.items():
        with pytest.raises(RecordError) as e:
            read_record(tmp_path, tid)
        assert msg in e.value.message and isinstance(e.value, UserError) and "\n" not in e.value.message
        assert e.value.hint
