"""Render a studio folder with the build's render step, showing the picture as it forms."""

from __future__ import annotations

from pathlib import Path

from collection.studio.show import Show, ShowingExecutor


def render_folder(folder: Path, show: Show | None, *, device: str | None = None, models_dir: Path | None = None,
                  threads: int | None = None, progress: bool = True):
    """collection.render.render_step.render_build, with the executor wrapped to show previews."""
    from buildfiles.lock import build_lock
    from buildfiles.plan import load_plan
    from collection.render.render_step import make_executor, plan_work, render_works

    with build_lock(folder, "render"):
        plan = load_plan(folder)
        ex = ShowingExecutor(make_executor("local", models_dir=models_dir, threads=threads, ray_address=None), show)
        try:
            dev = ex.device(device)
            return render_works(folder, plan_work(plan, None, dev, None, folder), ex, dev, progress=progress)
        finally:
            ex.close()
