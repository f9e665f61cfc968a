"""gallery.html as a file: data embedded inertly, nothing fetched from the network, CSP pinned to the script."""

from __future__ import annotations

import base64
import hashlib
import json
import re

from preview import make_preview
from preview.gallery import embed_json
from tests.fixtures_preview import HOSTILE_NAME, HOSTILE_PROMPT, preview_build  # noqa: F401  (fixture)


def embedded(html: str) -> dict:
    m = re.search(r'<script type="application/json" id="roboz-data">(.*?)</script>', html, re.S)
    return json.loads(m[1])


def test_embed_json_cannot_close_the_script_element():
    value = {"p": HOSTILE_PROMPT + "<!-- &amp; \u2028", "n": HOSTILE_NAME}
    text = embed_json(value)
    assert not re.search(r"[<>&\u2028\u2029]", text)
    assert json.loads(text) == value


def test_gallery_embeds_every_token_and_escapes_everything(preview_build):
    b = preview_build(9, rendered={1, 2, 3, 4, 5}, hostile_id=5, snapshots={2: [50, 100]}, animations=(2,))
    plan = json.loads((b.path / "plan.json").read_text())
    plan["collection"]["name"] = "<b>Roboz</b> & co"
    (b.path / "plan.json").write_text(json.dumps(plan))
    r = make_preview(b.path, thumb_size=32, report=False)
    html = r.gallery.read_text()

    assert html.count("<script") == 2  # the JSON block and the page script: nothing injected
    assert HOSTILE_PROMPT not in html and "</script><script>window" not in html
    assert "<title>&lt;b&gt;Roboz&lt;/b&gt; &amp; co · gallery</title>" in html
    data = embedded(html)
    toks = {t["id"]: t for t in data["tokens"]}
    assert sorted(toks) == list(range(1, 10))
    assert toks[5]["prompt"] == HOSTILE_PROMPT and toks[5]["name"] == HOSTILE_NAME
    assert toks[1]["thumb"] == ".thumbs/32/images/1.jpg" and (b.path / toks[1]["thumb"]).exists()
    assert toks[7]["image"] is None and toks[7]["thumb"] is None
    assert toks[2]["snapshots"] == [[50, "snapshots/2/0050.png"], [100, "snapshots/2/0100.png"]]
    assert toks[2]["animation"] == "animations/2.mp4" and toks[1]["animation"] is None
    assert data["rarity"]["available"] and len(data["rarity"]["rarest"]) == 9


def test_gallery_is_offline_and_csp_allows_only_its_script(preview_build):
    b = preview_build(3)
    html = make_preview(b.path, thumb_size=32, report=False).gallery.read_text()
    assert not re.search(r"https?://|//cdn|@import", html, re.I)
    script = re.search(r"<script>(.*?)</script>", html, re.S)[1]
    digest = base64.b64encode(hashlib.sha256(script.encode()).digest()).decode()
    assert f"script-src 'sha256-{digest}'" in html
    assert not re.search(r"\.(inner|outer)HTML\s*=|insertAdjacentHTML\(|document\.write\(|eval\(", script)


def test_metadata_attributes_win_over_plan_traits(preview_build):
    b = preview_build(2)
    (b.path / "metadata").mkdir()
    attrs = [{"trait_type": "colour", "value": "Red"}, {"display_type": "number", "trait_type": "generation", "value": 2}]
    (b.path / "metadata" / "1.json").write_text(json.dumps({"name": "x", "attributes": attrs}))
    (b.path / "metadata" / "2.json").write_text("{not json")
    data = embedded(make_preview(b.path, thumb_size=32, report=False).gallery.read_text())
    assert data["tokens"][0]["attributes"] == attrs
    assert data["tokens"][1]["attributes"] == [{"trait_type": c, "value": v} for c, v in b.tokens[1].traits.items()]


def test_the_seed_shown_is_the_one_that_painted_the_image(preview_build):
    # best-of-K keeps another candidate's seed than the planned one: renders/{id}.json says which
    b = preview_build(2, records="real", candidates={1: [{"seed": 1001, "score": 0.1, "stop_iteration": 50},
                                                         {"seed": 42, "score": 0.3, "stop_iteration": 100}]})
    rec = json.loads((b.path / "renders" / "1.json").read_text())
    rec["seed"] = 42
    (b.path / "renders" / "1.json").write_text(json.dumps(rec))
    toks = {t["id"]: t for t in embedded(make_preview(b.path, thumb_size=32, report=False).gallery.read_text())["tokens"]}
    assert toks[1]["seed"] == 42 and toks[2]["seed"] == b.tokens[1].seed
    assert [c[0] for c in toks[1]["candidates"] if c[4]] == [42]  # the chosen candidate follows the record
