"""The build's levers: calibrated once, at the first render on a device kind, and recorded in levers.json.

    levers.json   {"format": "roboz-levers/1", "devices": {"cpu": <generator.calibrate.Calibration>, ...}}

Levers change float rounding (generator.loop.Levers), so what a build painted with is part of its
pictures: the first run that paints on a device kind (cpu, cuda) calibrates and writes the choice,
every later run (a resume after a crash, `render` after `build`, a re-roll) reads it back and never
times anything again, so a build's images never depend on the day it was resumed. Delete the file to
calibrate again (tokens already painted keep their pixels; those resumed from a checkpoint then
continue with the new levers).

Builds of the random-weight test pair are not calibrated unless asked (`--levers always`): their
iterations take milliseconds and their pictures are noise; they paint with the default levers and
record nothing. `--levers none` paints plain fp32 and records nothing either.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable, Sequence

from buildfiles import atomicio
from buildfiles.jsonfile import read_object

LEVERS_FILE = "levers.json"
FORMAT = "roboz-levers/1"
# auto: calibrate on the first run (not the test pair); always: the test pair too; none: the default, nothing recorded
MODES = ("auto", "always", "none")
RECOVER = "delete levers.json: the next render calibrates again"


def device_kind(dev: str) -> str:
    """The key a choice is recorded under: every CUDA device of a build shares one choice."""
    return "cuda" if dev.startswith("cuda") else dev


def recorded(build_dir: Path) -> dict[str, dict[str, Any]]:
    raw = read_object(Path(build_dir) / LEVERS_FILE, fmt=FORMAT, recover=RECOVER, legacy_ok=False) or {}
    devices = raw.get("devices", {})
    if not isinstance(devices, dict):
        from buildfiles.jsonfile import BuildFileError

        raise BuildFileError(f"{Path(build_dir) / LEVERS_FILE}: 'devices' is not an object", hint=RECOVER)
    return devices


def record(build_dir: Path, kind: str, calibration: dict[str, Any]) -> None:
    devices = {**recorded(build_dir), kind: calibration}
    atomicio.write_json(Path(build_dir) / LEVERS_FILE, {"format": FORMAT, "devices": devices})


def build_iterations(works: Sequence[Any]) -> int:
    """Batch-iterations the works will take (best-of-K counted by its schedule): the length a
    calibration's trials are weighed against."""
    from generator.candidates import schedule_cost

    per_token = sum(schedule_cost(w.settings.iterations, w.settings.candidates) for w in works)
    return max(1, per_token // max(1, works[0].settings.batch_size))


def first_batch(build_dir: Path, works: Sequence[Any]) -> list:
    """The jobs of the batch the build paints first (fresh starts: a trial never reads a checkpoint)."""
    from collection.render.render_writer import make_job
    from generator.loop import make_batches

    first = works[0]
    same = [w for w in works if w.models == first.models and w.settings == first.settings][: first.settings.batch_size]
    return make_batches([make_job(build_dir, w, None) for w in same])[0]


def build_levers(build_dir: Path, works: Sequence[Any], ex, dev: str, mode: str = "auto",
                 log: Callable[[str], None] = print):
    """The levers this build paints with on `dev`: the recorded ones, else (mode auto) a fresh
    calibration on the first works' settings and models, recorded before any token is painted."""
    from generator.calibrate import Calibration, precision_problem
    from generator.loop import Levers

    kind = device_kind(dev)
    mine = recorded(build_dir).get(kind)
    if mine is not None:
        try:
            cal = Calibration.from_dict(mine)
        except (KeyError, TypeError, ValueError, AttributeError):
            from buildfiles.jsonfile import BuildFileError

            raise BuildFileError(f"{Path(build_dir) / LEVERS_FILE} holds no valid choice for {kind}", hint=RECOVER) from None
        problem = precision_problem(cal.levers.precision, dev) if cal.levers.precision else None
        if problem:
            log(f"warning: this build's recorded levers ({cal.levers.label}) were chosen on another machine: {problem}")
        log(f"levers on {kind}: {cal.levers.label} (recorded by this build's first run; reused so its pictures stay the same)")
        return cal.levers
    if mode == "none" or not works or (works[0].tiny and mode != "always"):
        return Levers()
    calibrate = getattr(ex, "calibrate", None)
    if calibrate is None:  # Ray: the workers may be other machines than this one; they paint with the default
        cal = Calibration(Levers(), kind, f"not calibrated: the {ex.name} executor's workers paint with the default levers")
    else:
        cal = calibrate(works[0].models, first_batch(build_dir, works), build_iterations(works), log)
    record(build_dir, kind, cal.to_dict())
    log(cal.summary())
    return cal.levers
