"""A garbled or lost render record names the way to re-render its token, and that way works: the test
follows the hint word for word on a real (tiny-model) render. (A plain `render` repairs it as well:
tests/test_cli_errors.py.)"""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

from buildfiles.records import RecordError, read_record, record_path
from collection.render.render_step import render_build


def _follow(hint: str, build) -> None:
    """Do what the hint says: delete the file it names, run the command it names."""
    m = re.fullmatch(r"re-render that token: delete (images/\d+\.png) and run `roboz-collection render BUILD_DIR` again", hint)
    assert m, hint
    (build / m.group(1)).unlink()
    r = subprocess.run([sys.executable, "-m", "collection.cli", "render", str(build), "--models", "tiny", "--device", "cpu",
                        "--no-progress"], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr


@pytest.mark.parametrize("damage", ["garble", "delete"])
def test_following_the_record_hint_re_renders_the_token(make_build, damage):
    build = make_build(tokens=[{"prompt": "a rusty robot", "seed": 11}])
    assert render_build(build, models="tiny", progress=False).rendered == [1]
    good = read_record(build, 1)
    before = (build / "images" / "1.png").read_bytes()

    if damage == "garble":
        record_path(build, 1).write_text("{garbled")
    else:
        record_path(build, 1).unlink()
    with pytest.raises(RecordError) as e:
        read_record(build, 1)

    _follow(e.value.hint, build)
    back = read_record(build, 1)
    assert back.seed == good.seed and back.image_sha256 == good.image_sha256
    assert (build / "images" / "1.png").read_bytes() == before   # same seed and settings: the same picture
