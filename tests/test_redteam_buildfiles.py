"""Red team, damaged build files and the review server (issue 25): a build file that is garbled, cut
short, of the wrong shape or replaced by a folder is one line naming it and the way back (exit 2 for
plan.json, the lock and the JSON files; state.sqlite names its own fix), never "(a bug ...)"; the
review API records only picks among the token's candidates and refuses forged requests."""

from __future__ import annotations

import http.client
import json

import pytest

from buildfiles.plan import PLAN_FORMAT
from collection.cli import main
from collection.render.render_step import render_build

TOKENS = [{"prompt": "a rusty robot", "seed": 11}, {"prompt": "a robot dog", "seed": 22}]


def _run(capsys, *argv) -> tuple[int, str]:
    code = main([*map(str, argv)])
    out = capsys.readouterr()
    return code, out.err


def _one_line(err: str) -> None:
    assert err.startswith("error: ") and "a bug" not in err and "Traceback" not in err, err
    assert len([line for line in err.splitlines() if line.startswith("error: ")]) == 1, err


@pytest.fixture
def build(make_build):
    return make_build({"iterations": 4, "candidates": 2}, TOKENS)


def _folder(p):
    if p.exists():
        p.unlink()
    p.mkdir(parents=True)
    (p / "inside.txt").write_text("x")


PLAN_DAMAGE = {
    "a folder": (_folder, "is a folder where the plan file should be"),
    "empty": (lambda p: p.write_text(""), "is not valid JSON"),
    "cut short": (lambda p: p.write_bytes(p.read_bytes()[: len(p.read_bytes()) // 2]), "is not valid JSON"),
    "a JSON list": (lambda p: p.write_text("[1, 2]"), "holds a JSON list, not a plan"),
    "a JSON string": (lambda p: p.write_text('"plan"'), "holds a JSON str, not a plan"),
    "no tokens or collection": (lambda p: p.write_text(json.dumps({"format": PLAN_FORMAT})), "is malformed (KeyError"),
    "a token without a seed": (lambda p: p.write_text(p.read_text().replace('"seed": 11', '"sead": 11')), "is malformed"),
    "another format": (lambda p: p.write_text(json.dumps({"format": "roboz-plan/99"})), "unknown plan format"),
    "NaN": (lambda p: p.write_text(p.read_text().replace('"seed": 11', '"seed": NaN')), "is not valid JSON"),
    "not UTF-8": (lambda p: p.write_bytes(p.read_bytes().replace(b"a rusty robot", b"a r\xfcsty robot")), "is not valid JSON"),
    "a NUL in a name (hand edit)": (lambda p: p.write_text(p.read_text().replace("Roboz #1", "Roboz\\u0000#1")),
                                    "token 1 name contains a control or bidirectional character"),
    "an RLO in a prompt": (lambda p: p.write_text(p.read_text().replace("a rusty robot", "a rusty \\u202erobot")),
                           "token 1 prompt contains a control or bidirectional character"),
    "a folder named plan.json/ with a plan inside": (lambda p: (_keep := p.read_text(), _folder(p),
                                                                (p / "plan.json").write_text(_keep)),
                                                     "is a folder where the plan file should be"),
}


@pytest.mark.parametrize("case", list(PLAN_DAMAGE))
def test_a_damaged_plan_is_one_line_for_every_step(build, capsys, case):
    damage, words = PLAN_DAMAGE[case]
    damage(build / "plan.json")
    for argv in (["render", build, "--no-progress"], ["metadata", build], ["reroll", build, "1", "--no-progress"]):
        code, err = _run(capsys, *argv)
        assert code == 2, (argv, err)
        _one_line(err)
        assert "plan.json" in err and words in err, (argv, err)


def test_the_lock_replaced_by_a_folder_is_one_line(build, capsys):
    from buildfiles.lock import lock_path

    _folder(lock_path(build))
    code, err = _run(capsys, "render", build, "--no-progress")
    assert code == 2
    _one_line(err)
    assert "is a folder where the lock file should be" in err and "rmdir" in err


@pytest.mark.parametrize("name, damage, words", [
    ("rerolls.json", _folder, "is a folder where the file should be"),
    ("rerolls.json", lambda p: p.write_text('{"format": "roboz-rerolls/1", "tokens": {"x": 1}}'), "is malformed"),
    ("rerolls.json", lambda p: p.write_text('{"format": "roboz-rerolls/1", "tokens": {"1": {"base_seed": "a"}}}'),
     "is malformed"),
    ("rerolls.json", lambda p: p.write_text("{\"format\": \"roboz-rerolls/1\", \"tok"), "is corrupt or truncated"),
    ("rerolls.json", lambda p: p.write_bytes(b"\xff\xfe{}"), "cannot be read"),
    ("review.json", _folder, "is a folder where the file should be"),
    ("review.json", lambda p: p.write_text('{"format": "roboz-review/1", "tokens": {"1": {"decision": "maybe"}}}'),
     "is malformed"),
    ("review.json", lambda p: p.write_text("[]"), "holds a JSON list, not an object"),
])
def test_damaged_reroll_and_review_files_are_one_line(build, capsys, name, damage, words):
    damage(build / name)
    argv = ["reroll", build, "--from-review", "--no-progress"] if name == "review.json" else ["render", build, "--no-progress"]
    code, err = _run(capsys, *argv)
    assert code == 2, err
    _one_line(err)
    assert name in err and words in err


@pytest.mark.parametrize("damage", [_folder, lambda p: p.write_bytes(b"SQLite format 3\x00" + b"\xff" * 200),
                                    lambda p: p.write_text("not a database")])
def test_a_damaged_state_database_names_itself_and_the_way_back(build, capsys, damage):
    damage(build / "state.sqlite")
    code, err = _run(capsys, "render", build, "--no-progress")
    assert code in (1, 2)
    _one_line(err)
    assert "state.sqlite" in err and "hint: move it away" in err


def test_a_render_record_replaced_by_a_folder_is_painted_again_or_named(build, capsys):
    assert sorted(render_build(build, progress=False).rendered) == [1, 2]
    rec = build / "renders" / "1.json"
    rec.unlink()
    rec.mkdir()
    code, err = _run(capsys, "metadata", build)
    assert code in (1, 2) and "renders/1.json" in err, err
    _one_line(err)


# ---- the review server ----------------------------------------------------------------------

def _post(server, path, body, *, origin=True, ctype="application/json"):
    c = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    headers = {"Host": f"127.0.0.1:{server.port}", "Content-Type": ctype}
    if origin:
        headers["Origin"] = server.origin
    c.request("POST", f"/{server.secret}/{path}", body=json.dumps(body) if not isinstance(body, bytes) else body,
              headers=headers)
    r = c.getresponse()
    data = r.read()
    c.close()
    return r.status, data


@pytest.fixture(scope="module")
def reviewed(tmp_path_factory, roboz_home):
    from tests.fixtures_generator import FAST, write_plan

    b = write_plan(tmp_path_factory.mktemp("review") / "build", {**FAST, "iterations": 4, "candidates": 2}, TOKENS)
    assert sorted(render_build(b, progress=False).rendered) == [1, 2]
    return b


@pytest.mark.parametrize("body, status, words", [
    ({"id": 1, "decision": "pick", "seed": 4006375431}, 400, "is not a candidate of token 1"),
    ({"id": 1, "decision": "pick", "seed": 11.0}, 400, "pick needs the candidate's seed"),
    ({"id": 1, "decision": "pick", "seed": True}, 400, "pick needs the candidate's seed"),
    ({"id": 1, "decision": "pick", "seed": "11"}, 400, "pick needs the candidate's seed"),
    ({"id": 1, "decision": "pick"}, 400, "pick needs the candidate's seed"),
    ({"id": 1, "decision": "pick", "seed": -1}, 400, "pick needs the candidate's seed"),
    ({"id": 1, "decision": "pick", "seed": 2**40}, 400, "pick needs the candidate's seed"),
    ({"id": 3, "decision": "reject"}, 400, "unknown token id"),
    ({"id": "1", "decision": "reject"}, 400, "unknown token id"),
    ({"id": True, "decision": "reject"}, 400, "unknown token id"),
    ({"id": 1, "decision": "delete"}, 400, "decision must be one of"),
])
def test_the_review_api_refuses_forged_decisions(reviewed, body, status, words):
    from collection.review.server import ReviewServer

    with ReviewServer(reviewed) as s:
        code, data = _post(s, "api/decision", body)
        assert code == status and words in json.loads(data)["error"], data
    assert not (reviewed / "review.json").exists() or "4006375431" not in (reviewed / "review.json").read_text()


def test_the_review_api_records_a_pick_of_a_shown_candidate_and_refuses_a_cross_token_one(reviewed):
    from collection.review.server import ReviewServer

    recs = {i: json.loads((reviewed / "renders" / f"{i}.json").read_text()) for i in (1, 2)}
    mine, theirs = recs[1]["candidates"][1]["seed"], recs[2]["candidates"][1]["seed"]
    with ReviewServer(reviewed) as s:
        assert _post(s, "api/decision", {"id": 1, "decision": "pick", "seed": theirs})[0] == 400  # token 2's candidate
        assert _post(s, "api/decision", {"id": 1, "decision": "pick", "seed": mine}, origin=False)[0] == 200
        assert _post(s, "api/decision", {"id": 1, "decision": "pick", "seed": mine}, ctype="text/plain")[0] == 415
        assert _post(s, "api/decision", b"{not json")[0] == 400
    saved = json.loads((reviewed / "review.json").read_text())
    assert saved["tokens"] == {"1": {"decision": "pick", "seed": mine}}
