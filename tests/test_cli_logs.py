"""Logs anywhere: `build` through a pipe prints plain lines per token and progress lines, and
--log-json appends the same events as JSON lines (issue 13, item 1)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import textwrap
import time

MANIFEST = textwrap.dedent("""\
    collection: {name: Piped Roboz, symbol: PIPE, seed: 7, supply: 2, start_id: 1}
    render: {models: tiny, size: [32, 32], iterations: 6, cutn: 4, checkpoint_every: 3, init_image: null}
    prompt: {template: "{colour} rusty roboz"}
    traits:
      colour: {Red: 1, Blue: 1}
    """)


def test_build_through_a_pipe_prints_plain_lines_and_json_events(tmp_path, roboz_home):
    (tmp_path / "manifest.yaml").write_text(MANIFEST)
    log = tmp_path / "events.jsonl"
    log.write_text('{"event": "from an earlier run"}\n')  # appended to, never truncated
    env = {**os.environ, "ROBOZ_LOG_EVERY": "0"}  # a progress line at every chance, so a short run shows them
    # stdout is a pipe, and no --no-progress: the tool must notice that it is not a terminal
    p = subprocess.run([sys.executable, "-m", "collection.cli", "build", "manifest.yaml", "--no-preview",
                        "--log-json", str(log)], cwd=tmp_path, env=env, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, text=True, timeout=600)
    assert p.returncode == 0, p.stdout + p.stderr
    out = p.stdout
    assert "Traceback" not in out + p.stderr
    assert "\x1b[" not in out  # no terminal control codes in a log file
    plan = json.loads((tmp_path / "build" / "plan.json").read_text())
    seeds = {t["id"]: t["seed"] for t in plan["tokens"]}
    assert re.search(r"^render: 2 tokens, 0 already done, 2 to paint \(local executor, cpu, [12] torch threads?\)$", out, re.M)
    for tid, seed in seeds.items():
        assert re.search(rf"^token {tid} started: seed {seed}, 6 iterations$", out, re.M), out
        assert re.search(rf"^token {tid} finished: seed {seed}, \d+\.\d s, loss -?\d+\.\d{{4}} \([12]/2 done\)$", out, re.M), out
    progress = re.findall(r"^progress: (\d)/2 tokens, (\d+)/12 iterations, \d+\.\d\d it/s, ETA .+$", out, re.M)
    assert progress and progress[-1][1] == "12"

    lines = log.read_text().splitlines()
    assert json.loads(lines[0]) == {"event": "from an earlier run"}
    events = [json.loads(line) for line in lines[1:]]
    kinds = [e["event"] for e in events]
    assert kinds[0] == "render_started" and kinds[-1] == "render_finished"
    started = {e["id"]: e for e in events if e["event"] == "token_started"}
    finished = {e["id"]: e for e in events if e["event"] == "token_finished"}
    assert {i: e["seed"] for i, e in started.items()} == seeds == {i: e["seed"] for i, e in finished.items()}
    assert all(e["seconds"] > 0 and isinstance(e["loss"], float) and e["iterations"] == 6 for e in finished.values())
    prog = [e for e in events if e["event"] == "progress"]
    assert prog and prog[-1]["iterations_done"] == prog[-1]["iterations_total"] == 12
    assert {"done", "total", "it_per_s", "eta_s", "time"} <= set(prog[-1])
    assert events[-1]["rendered"] == 2 and events[-1]["failed"] == 0


def test_a_progress_line_comes_while_nothing_else_happens():
    """The timer thread: a long iteration or Ray segment still gets its progress lines."""
    import io

    from collection.render.render_progress import PlainView, RenderProgress

    out = io.StringIO()
    with RenderProgress(total=3, skipped=1, views=[PlainView(out)], every=0.05) as prog:
        prog.begin(2, "local", "cpu")
        prog.add_iterations(20)
        prog.batch_started((2,), [5], 0, 10)
        prog.progress((2,), 4, 10, (0.5,))
        t0 = time.monotonic()
        while "progress:" not in out.getvalue() and time.monotonic() - t0 < 30:
            time.sleep(0.01)
    text = out.getvalue()
    assert "token 2 started: seed 5, 10 iterations" in text
    assert re.search(r"^progress: 1/3 tokens, 4/20 iterations, \d+\.\d\d it/s, ETA ", text, re.M), text
