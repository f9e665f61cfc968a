"""Hostile and broken manifests (issue 16 items 1-2): one located line and exit 2, never a
traceback, a hang or a memory blow-up; and `validate` checks what `build` will need."""

from __future__ import annotations

import random
import re
import subprocess
import sys
import time
import tracemalloc
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from collection.cli import main
from tests.test_manifest_errors import GOOD, run_validate

EXAMPLE = (Path(__file__).resolve().parents[1] / "examples" / "rusty-roboz" / "manifest.yaml").read_text()

BILLION_LAUGHS = """\
a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]
b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]
c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]
d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]
e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]
f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]
g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]
h: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g]
i: &i [*h,*h,*h,*h,*h,*h,*h,*h,*h]
"""


def validate_process(path: Path) -> subprocess.CompletedProcess:
    # A real process with its address space capped at 1 GiB: a blow-up fails loudly instead of swapping.
    limit = "import resource; resource.setrlimit(resource.RLIMIT_AS, (1 << 30, 1 << 30));"
    code = limit + "import sys; from collection.cli import main; sys.exit(main(['validate', sys.argv[1]]))"
    return subprocess.run([sys.executable, "-c", code, str(path)], capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize("text, message", [
    (BILLION_LAUGHS, "YAML aliases (*a) are not supported in a manifest"),
    (GOOD.replace("traits:\n", "traits:\n  x: &x {A: 1}\n  y: *x\n"), "YAML aliases (*x) are not supported"),
    ("a: " + "[" * 5000 + "]" * 5000 + "\n", "YAML"),
    ("a:\n" + "".join("  " * i + f"k{i}:\n" for i in range(1, 200)) + "  " * 200 + "v: 1\n", "nested deeper than 32 levels"),
    ("seed: " + "9" * 6000 + "\n", "YAML value cannot be read"),
])
def test_yaml_bombs_and_deep_nesting_are_one_line(tmp_path, text, message):
    f = tmp_path / "manifest.yaml"
    f.write_text(text)
    p = validate_process(f)
    assert p.returncode == 2, p.stderr
    assert message in p.stderr and "Traceback" not in p.stderr
    assert p.stderr.startswith("error: ")


def test_directory_device_and_oversized_manifests(tmp_path, capsys):
    assert main(["validate", str(tmp_path)]) == 2
    assert f"error: manifest {tmp_path} is a folder, not a file" in capsys.readouterr().err
    assert main(["validate", "/dev/zero"]) == 2
    assert "is not a regular file" in capsys.readouterr().err
    big = tmp_path / "big.yaml"
    big.write_text("# " + "x" * (1 << 20) + "\n")
    assert main(["validate", str(big)]) == 2
    assert "the limit is 1,048,576 (1 MiB)" in capsys.readouterr().err


def test_unreadable_manifest(tmp_path, capsys):
    f = tmp_path / "manifest.yaml"
    f.write_text(GOOD)
    f.chmod(0)
    try:
        if f.open("rb"):  # root reads anything: nothing to test there
            pytest.skip("running as root")
    except PermissionError:
        assert main(["validate", str(f)]) == 2
        assert "cannot be read" in capsys.readouterr().err
    finally:
        f.chmod(0o644)


@pytest.mark.parametrize("edit, message", [
    (("  iterations: 5", "  iterations: 5\n  step_size: .inf"), "render.step_size: must be a finite number from 0 to 10, got inf (manifest.yaml:11)"),
    (("  iterations: 5", "  iterations: 5\n  cut_pow: .inf"), "render.cut_pow: must be a finite number from 0 to 10, got inf"),
    (("  iterations: 5", "  iterations: 5\n  init_weight: .nan"), "render.init_weight"),
    (('prompt: "surfing"', 'prompt: "robot:nan"'), "traits.object.Surfboard: its prompt phrase makes the prompt item '{colour} rusty roboz robot:nan'"),
    (('"{colour} rusty roboz {object}"', '"{colour} rusty roboz {object}:1e999"'), "prompt.template: '{colour} rusty roboz {object}:1e999': weight and stop must be finite"),
    (('"Dune | rusty roboz:0.5"', '"Dune | rusty roboz:5000"'), "specials[0].prompt: 'rusty roboz:5000': weight 5000 is outside ±1000"),
    (("  iterations: 5", "  iterations: 5\n  noise_prompts: ['abc:def']"), "render.noise_prompts[0]: 'abc:def' is not `seed:weight`"),
    (("  iterations: 5", "  iterations: 5\n  noise_prompts: ['7:inf']"), "render.noise_prompts[0]: '7:inf': weight and stop must be finite"),
    (("  seed: 7", "  seed: 7\n  start_id: " + str(2**256 - 1)), "collection.start_id: token ids would run from"),
    (("  seed: 7", "  seed: 7\n  external_url: 'javascript:alert(1)'"), "collection.external_url: must be an http:// or https:// address"),
    (('    prompt: "Dune | rusty roboz:0.5"', '    prompt: "Dune | rusty roboz:0.5"\n    render: [1, 2]'), "specials[0].render: must be a mapping of render settings"),
    (("supply: 6", "supply: 2000000"), "collection.supply: must be at most 1,000,000 tokens"),
])
def test_numbers_prompts_ids_and_urls_are_checked(tmp_path, capsys, edit, message):
    old, new = edit
    assert old in GOOD
    code, err = run_validate(tmp_path, GOOD.replace(old, new), capsys)
    assert code == 2, err
    assert message in err and "Traceback" not in err


def test_supply_all_is_bounded(tmp_path, capsys):
    traits = "".join(f"  c{i}: {{" + ", ".join(f"v{j}: 1" for j in range(100)) + "}\n" for i in range(6))
    text = GOOD.split("traits:")[0].replace("supply: 6", "supply: all").replace("{colour} rusty roboz {object}", "{c0} {c1}")
    code, err = run_validate(tmp_path, text + "traits:\n" + traits, capsys)
    assert code == 2
    assert "collection.supply: `supply: all` would plan 1,000,000,000,000 tokens; the limit is 1,000,000" in err


def _png(path: Path, size=(8, 8)) -> bytes:
    Image.new("RGB", size, (200, 40, 40)).save(path)
    return path.read_bytes()


@pytest.mark.parametrize("kind, message", [
    ("empty", r"is empty \(0 bytes\)"),
    ("text", "is not an image that can be read"),
    ("corrupt", "(cannot be decoded|is not an image that can be read)"),
    ("truncated", "cannot be decoded"),
    ("bomb", r"is 5000x4000 pixels, above the limit of 16,777,216 \(4096x4096\)"),
])
@pytest.mark.parametrize("field", ["init_image", "image_prompts", "collection.image"])
def test_input_images_are_decoded_at_validate_time(tmp_path, capsys, kind, message, field):
    img = tmp_path / "in.png"
    data = _png(img, (64, 64))
    if kind == "empty":
        img.write_bytes(b"")
    elif kind == "text":
        img.write_text("not a picture\n")
    elif kind == "corrupt":
        img.write_bytes(data[:40] + bytes(random.Random(1).randrange(256) for _ in range(len(data) - 40)))
    elif kind == "truncated":
        img.write_bytes(data[: len(data) // 2])
    elif kind == "bomb":
        Image.new("1", (5000, 4000)).save(img)  # 20 MP, a few KB on disk
    if field == "collection.image":
        text = GOOD.replace("  seed: 7", "  seed: 7\n  image: in.png")
    elif field == "init_image":
        text = GOOD.replace("  models: tiny", "  models: tiny\n  init_image: in.png")
    else:
        text = GOOD.replace("  models: tiny", "  models: tiny\n  image_prompts: ['in.png:0.5']")
    code, err = run_validate(tmp_path, text, capsys)
    assert code == 2, err
    assert re.search(f"'in.png' {message}", err) and "Traceback" not in err
    assert field.split(".")[-1] in err


def test_a_good_input_image_passes(tmp_path, capsys):
    _png(tmp_path / "in.png")
    code, err = run_validate(tmp_path, GOOD.replace("  models: tiny", "  models: tiny\n  init_image: in.png"), capsys)
    assert code == 0, err


# ---------------------------------------------------------------- fuzz

YAML_BITS = ["[", "]", "{", "}", ":", ": ", "- ", "&a ", "*a", "!!python/object:os.system ", "!!binary ", "\n", "  ", "#",
             "'", '"', "|", ">", "?", ",", "<<: ", ".inf", ".nan", "-1", "0", "1e999", "9" * 40, "null", "yes", "~",
             "\t", "\x00", "é", "{colour}", "supply", "traits", "count", "weight", "all", "%YAML 1.1\n", "---\n", "..."]


def _mutate(text: str, rnd: random.Random, n: int) -> str:
    for _ in range(n):
        op = rnd.randrange(5)
        i = rnd.randrange(len(text) + 1)
        j = min(len(text), i + rnd.randrange(1, 40))
        if op == 0:
            text = text[:i] + text[j:]                                  # delete a span
        elif op == 1:
            text = text[:i] + rnd.choice(YAML_BITS) + text[i:]          # insert YAML syntax
        elif op == 2:
            text = text[:i] + text[i:j] * rnd.randrange(2, 6) + text[j:]  # repeat a span
        elif op == 3:
            text = re.sub(r"\d+(\.\d+)?", lambda m: rnd.choice(["0", "-3", "1e400", ".nan", "2" * 30, m.group(0)]), text, count=1)
        else:
            a, b = sorted(rnd.randrange(len(text) + 1) for _ in range(2))
            text = text[:i] + text[a:b] + text[i:]                      # copy a span elsewhere
    return text


FUZZ_STATS = {"cases": 0, "slowest_s": 0.0, "largest_mib": 0.0}


@pytest.fixture(scope="module", autouse=True)
def fuzz_figures():
    """Prints the fuzz figures at the end of the module (seen with `-s`)."""
    yield
    if FUZZ_STATS["cases"]:
        print(f"\nfuzz: {FUZZ_STATS['cases']} cases, slowest {FUZZ_STATS['slowest_s'] * 1000:.0f} ms CPU, "
              f"largest {FUZZ_STATS['largest_mib']:.1f} MiB traced")


def _validate_in_process(tmp: Path, text: str) -> None:
    f = tmp / "manifest.yaml"
    f.write_text(text, encoding="utf-8", errors="surrogatepass")
    tracemalloc.start()
    t0 = time.process_time()
    try:
        code = main(["validate", str(f)])
    finally:
        cpu = time.process_time() - t0
        peak = tracemalloc.get_traced_memory()[1] / 2**20
        tracemalloc.stop()
    FUZZ_STATS["cases"] += 1
    FUZZ_STATS["slowest_s"] = max(FUZZ_STATS["slowest_s"], cpu)
    FUZZ_STATS["largest_mib"] = max(FUZZ_STATS["largest_mib"], peak)
    assert code in (0, 2)
    # Bounds of the issue (2 s, 200 MB), on CPU time and traced allocations: a timing-free
    # measure that a loaded machine does not inflate. A correct run is ~100x below both.
    assert cpu < 2.0 and peak < 200, (cpu, peak, text[:200])


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(st.integers(0, 2**32), st.integers(1, 12))
def test_fuzz_mutations_of_the_example_manifest(tmp_path, capsys, seed, n):
    """Random mutations of the example: validate ends with exit 0 or 2, one line per problem."""
    (tmp_path / "jax.png").write_bytes((Path(__file__).resolve().parents[1] / "examples" / "rusty-roboz" / "jax.png").read_bytes())
    _validate_in_process(tmp_path, _mutate(EXAMPLE, random.Random(seed), n))
    out = capsys.readouterr()
    assert "Traceback" not in out.err + out.out


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(st.lists(st.sampled_from(YAML_BITS) | st.text(max_size=6), max_size=60).map("".join))
def test_fuzz_random_yaml(tmp_path, capsys, text):
    _validate_in_process(tmp_path, text)
    out = capsys.readouterr()
    assert "Traceback" not in out.err + out.out


def test_heavy_exclusions_and_counts_stay_within_bounds(tmp_path, capsys):
    """Exclusions covering ~13 M sub-combinations of four 66-value categories, and counts in two
    of them: validate still answers within the fuzz bounds (marked with numpy, not a Python loop)."""
    vals = lambda i, n: ", ".join(f"v{i}_{j}" for j in range(n))  # noqa: E731
    traits = "".join(f"  c{i}: {{" + ", ".join(f"v{i}_{j}: 1" for j in range(66)) + "}\n" for i in range(4))
    traits = traits.replace("v0_5: 1", "v0_5: {count: 3}").replace("v1_7: 1", "v1_7: {count: 2}")
    text = (GOOD.split("traits:")[0].replace("{colour} rusty roboz {object}", "{c0} {c1} {c2} {c3}")
            + "traits:\n" + traits + "exclude:\n  - {" + ", ".join(f"c{i}: [{vals(i, 60)}]" for i in range(4)) + "}\n")
    _validate_in_process(tmp_path, text)
    assert "ok:" in capsys.readouterr().out


@pytest.mark.parametrize("template, phrase, bad", [
    ("{a} robot", "x:nan", False),       # the phrase's ':' is followed by text: no number is read
    ("robot {a}", "x:nan", True),        # ...at the end it is the weight
    ("{a}:0.5", "y:nan", True),          # 'y:nan:0.5': weight nan, stop 0.5
    ("{a}:{b}", "nan", True),            # 'nan:q': ':q' is written like a weight but is none (generator.prompts)
    ("{a}:{b} robot", "nan", False),     # 'nan:q robot': text after the ':', nothing is read
    ("{b}:{a}", "nan", True),            # 'q:nan'
    ("{a} x:1:2:3", "y:nan", False),     # two numeric fields after it: the phrase cannot reach them
])
def test_only_phrases_that_reach_the_weight_fields_matter(template, phrase, bad):
    from collection.plan.manifest import Category, TraitValue, _Collector, _validate_prompt_numbers
    from collection.plan.yamlpos import LoadedYaml

    c = _Collector(LoadedYaml(data={}))
    cats = (Category("a", (TraitValue("v", 1, phrase),)), Category("b", (TraitValue("q", 1, "q"),)))
    _validate_prompt_numbers(c, template, cats, [], None)
    assert bool(c.problems) == bad, [p.message for p in c.problems]
