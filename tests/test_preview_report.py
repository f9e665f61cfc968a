"""Rarity report and the `preview` command: tables, the missing-rarity hint, errors, no torch."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from rich.console import Console

from collection.cli import main
from buildfiles.errors import UserError
from preview import make_preview
from preview.rarity_report import print_report, summarize
from preview.sources import load_build_view
from tests.fixtures_preview import preview_build  # noqa: F401  (fixture)


def rendered_report(view) -> str:
    console = Console(record=True, width=160, color_system=None)
    print_report(view, console, n=3)
    return console.export_text()


def ranks(build) -> dict[int, int]:
    return {t["id"]: t["rank"] for t in json.loads((build / "rarity.json").read_text())["tokens"]}


def test_summary_orders_rarest_and_commonest(preview_build):
    b = preview_build(24)
    s = summarize(load_build_view(b.path), n=3)
    by_rank = sorted(ranks(b.path).items(), key=lambda kv: kv[1])
    assert [t.id for t in s.rarest] == [i for i, _ in by_rank[:3]]
    assert [t.id for t in s.commonest] == [i for i, _ in reversed(by_rank[-3:])]
    assert s.trait_counts["colour"] == [("Blue", 4), ("Green", 8), ("Red", 12)]  # rarest value first


def test_report_tables_show_ranks_and_counts(preview_build):
    b = preview_build(24)
    text = rendered_report(load_build_view(b.path))
    rarest_id = min(ranks(b.path).items(), key=lambda kv: kv[1])[0]
    assert "Rarest 3 (openrarity)" in text and "Most common 3" in text
    assert f"Rusty Roboz #{rarest_id} " in text
    assert "Blue" in text and " 4 " in text and "16.7" in text  # 4 of 24 blue
    assert "roboz-collection metadata" not in text


def test_without_rarity_json_the_report_says_what_to_run(preview_build):
    b = preview_build(6, rarity=False)
    view = load_build_view(b.path)
    assert all(t.rank is None for t in view.tokens)
    text = rendered_report(view)
    assert "roboz-collection metadata" in text and "Rarest" not in text
    assert "Red" in text  # trait counts still come from the plan
    r = make_preview(b.path, thumb_size=32, report=False)
    assert r.gallery.exists() and not r.rarity


def test_manifest_text_is_not_rich_markup(preview_build):
    b = preview_build(3)
    plan = json.loads((b.path / "plan.json").read_text())
    plan["tokens"][0]["name"] = "[bold red]loud[/]"
    (b.path / "plan.json").write_text(json.dumps(plan))
    text = rendered_report(load_build_view(b.path))
    assert "[bold red]loud[/]" in text


def test_malformed_rarity_json_is_a_user_error(preview_build):
    b = preview_build(3)
    (b.path / "rarity.json").write_text('{"method": "openrarity", "tokens": []}')
    with pytest.raises(UserError, match="rarity.json is malformed"):
        load_build_view(b.path)


def test_command_writes_everything(preview_build, capsys):
    b = preview_build(14, snapshots={3: [10, 20]})
    rc = main(["preview", str(b.path), "--columns", "4", "--thumb-size", "40",
               "--by-trait", "eyes", "--snapshots", "3", "--no-report"])
    out = capsys.readouterr().out
    assert rc == 0
    assert "14 tokens (14 rendered): 1 contact sheet(s)" in out
    assert "by eyes: 2 value(s), 2 sheet(s)" in out
    assert (b.path / "contact-sheets" / "sheet-001.png").exists()
    assert (b.path / "contact-sheets" / "by-eyes" / "laser-001.png").exists()
    assert (b.path / "contact-sheets" / "snapshots-3.png").exists()
    assert (b.path / "gallery.html").exists()
    assert "Rarest" not in out


def test_command_without_plan_prints_one_error_line(tmp_path, capsys):
    rc = main(["preview", str(tmp_path)])
    err = capsys.readouterr().err
    assert rc == 2 and err.startswith("error: ") and "plan.json not found" in err and "Traceback" not in err


def test_preview_never_imports_torch(preview_build):
    b = preview_build(4)
    code = (
        "import sys; from collection.cli import main; "
        f"rc = main(['preview', {str(b.path)!r}, '--thumb-size', '32']); "
        "assert rc == 0; assert 'torch' not in sys.modules, 'torch imported'; print('ok')"
    )
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stderr
    assert p.stdout.strip().endswith("ok") and "Rarest" in p.stdout


def test_garbled_render_record_is_one_line_naming_it(preview_build, capsys):
    b = preview_build(3, records="real")
    (b.path / "renders" / "2.json").write_text('{"id": 2, "seed": ')
    rc = main(["preview", str(b.path), "--thumb-size", "32", "--no-report"])
    err = capsys.readouterr().err
    assert rc != 0 and err.startswith("error: ") and "renders/2.json" in err and "Traceback" not in err
