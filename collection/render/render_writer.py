"""The render step's files: what the driver writes into the build directory, and reads back to resume.

    images/{id}.png              final image, PNG text: prompt, seed, models, settings
    snapshots/{id}/{iter:04d}.png
    frames/{id}/{iter:05d}.png   progress frames, kept on disk so a resumed video is whole
    animations/{id}.mp4
    renders/{id}.json            the render record (buildfiles.records), with the image's sha256
                                 (+ "auto_stop" under iterations: auto: where and why the token stopped)
    checkpoints/{id}.pt          while unfinished
    state.sqlite                 (buildfiles.state)

Every file is written atomically, so a crash leaves the old file or the new one, never half.
"""

from __future__ import annotations

import io
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from buildfiles import atomicio
from buildfiles.hashing import sha256_bytes
from buildfiles.plan import PlannedToken
from buildfiles.records import ANIMATION_KEY, RenderRecord, image_path, write_record
from buildfiles.rerolls import note_picture
from collection.plan.inputs import build_input

if TYPE_CHECKING:
    from generator.registry import ModelChoice
    from generator.settings import RenderSettings


@dataclass(frozen=True)
class TokenWork:
    """One token as the driver paints it: its settings read once from the plan.

    `seed` is the seed this render uses: the plan's, or another one a re-roll records. `settings`
    are the plan's (own model files by the plan's build-relative paths): fingerprints, PNG text and
    records hold them, so a moved project keeps its finished tokens; `choice` holds the models
    as this machine loads them.
    """

    token: PlannedToken
    seed: int
    settings: RenderSettings
    fingerprint: str        # what the pixels depend on (collection.render.render_step.fingerprint)
    choice: ModelChoice

    @property
    def id(self) -> int:
        return self.token.id

    @property
    def models(self) -> str:
        """Canonical models spec, the executor's key for loading ("tiny", "<vqgan>+<clip>", own files' JSON)."""
        return str(self.choice)

    @property
    def label(self) -> str:
        """The public name (PNG text, record, metadata): never a file path."""
        return self.choice.label

    @property
    def tiny(self) -> bool:
        return self.choice.tiny

    @property
    def test_models(self) -> str | None:
        """The test pair's label (registry.TEST_MODELS), carried by every picture."""
        return self.choice.test_label

    @property
    def job_settings(self) -> RenderSettings:
        """The settings the loop paints with: own model files by the paths found on this machine."""
        if not self.choice.files:
            return self.settings
        from dataclasses import replace

        return replace(self.settings, models=self.choice.to_spec())


THREADS_KEY = "threads"  # render record key: the CPU thread count the picture was painted with
LEVERS_KEY = "levers"    # render record key: the speed levers it was painted with (absent: the default)
AUTO_STOP_KEY = "auto_stop"  # render record key: {reason, iteration, score, scores, judge, kept} (generator.autostop.Stopped)


def checkpoint_rel(token_id: int) -> str:
    return f"checkpoints/{token_id}.pt"


def load_checkpoint(build_dir: Path, token_id: int, fp: str):
    """The token's checkpoint if it belongs to this token's current fingerprint.

    The file, not the state row, is the truth: a crash between writing the file and
    updating the row must not lose the progress in it.
    """
    import torch

    path = build_dir / checkpoint_rel(token_id)
    if not path.exists():
        return None
    try:
        ck = torch.load(path, map_location="cpu", weights_only=True)  # our own plain-tensor file: no pickled code
        if not isinstance(ck, dict) or not isinstance(ck.get("iteration"), int):
            raise ValueError("not a render checkpoint")
    except Exception as e:  # garbled (a disk, a hand edit): never worth a crash; keep it for a look, start over
        bad = path.with_name(path.name + ".bad")
        path.replace(bad)
        warn(f"{path} is unreadable ({type(e).__name__}); token {token_id} starts over (the file is kept as {bad.name})")
        return None
    return ck if ck.get("fingerprint") == fp else None


def warn(line: str) -> None:
    print(f"warning: {line}", file=sys.stderr, flush=True)


def clear_partial_writes(build_dir: Path, token_id: int) -> None:
    """Remove temp files a killed process left mid-write (atomicio's `.NAME.*.tmp`) in the token's folders."""
    for d in (build_dir / "frames" / str(token_id), build_dir / "snapshots" / str(token_id)):
        for p in d.glob(".*.tmp"):
            p.unlink(missing_ok=True)


def make_job(build_dir: Path, work: TokenWork, checkpoint):
    """A generator.loop.TokenJob: plain data, images loaded, ready for any executor."""
    from PIL import Image

    from generator.loop import ImagePrompt, TokenJob
    from generator.prompts import parse_prompt

    s = work.job_settings
    init = Image.open(build_input(build_dir, s.init_image)).convert("RGB") if s.init_image else None
    prompts = []
    for item in s.image_prompts:
        p = parse_prompt(item)
        prompts.append(ImagePrompt(Image.open(build_input(build_dir, p.text)).convert("RGB"), p.weight, p.stop))
    return TokenJob(work.id, work.token.prompt, work.seed, s, init, tuple(prompts), checkpoint)


class BuildWriter:
    """Turns executor events into atomic files and state rows."""

    def __init__(self, build_dir: Path, state, works: dict[int, TokenWork]):
        self.dir = build_dir
        self.state = state
        self.works = works
        self.levers = None  # generator.loop.Levers of this run (collection.render.levers)

    def started(self, token_id: int, iteration: int, resumed: bool) -> None:
        """The token's row says rendering, from its checkpoint when it resumes."""
        w = self.works[token_id]
        self.state.rendering(token_id, w.fingerprint, iteration, checkpoint_rel(token_id) if resumed else None)

    def checkpoint(self, token_id: int, ckpt: dict[str, Any]) -> None:
        import torch

        fp = self.works[token_id].fingerprint
        ckpt = {**ckpt, "fingerprint": fp}
        buf = io.BytesIO()
        torch.save(ckpt, buf)
        atomicio.write_bytes(self.dir / checkpoint_rel(token_id), buf.getvalue())
        self.state.rendering(token_id, fp, ckpt["iteration"], checkpoint_rel(token_id))

    def image(self, token_id: int, kind: str, iteration: int, image) -> None:
        from generator.outputs import png_bytes

        if kind == "snapshot":
            path = self.dir / "snapshots" / str(token_id) / f"{iteration:04d}.png"
        elif kind == "preview":  # the picture as it stands (preview_every): one file, replaced each time
            path = self.dir / "progress" / f"{token_id}.png"
        else:
            path = self.dir / "frames" / str(token_id) / f"{iteration:05d}.png"
        atomicio.write_bytes(path, png_bytes(image, tiny=self.works[token_id].tiny, test_models=self.works[token_id].test_models))

    def seed_of(self, r) -> int:
        """The seed of a result's image: best-of-K's chosen candidate's, else the token's."""
        return r.seed if getattr(r, "seed", None) is not None else self.works[r.id].seed

    def finished(self, r) -> RenderRecord:
        from collection.render.best_of import write_candidates
        from generator.outputs import mp4_bytes, png_bytes

        w = self.works[r.id]
        seed = self.seed_of(r)
        png = png_bytes(r.image, prompt=w.token.prompt, seed=seed, models=w.label, settings=w.settings.to_dict(), tiny=w.tiny,
                        test_models=w.test_models)
        atomicio.write_bytes(image_path(self.dir, r.id), png)
        video = getattr(w.settings, "zoom", None) or w.settings.video  # a zoom video replaces the progress video
        extra = write_candidates(self.dir, r, w.tiny, w.test_models)  # best-of-K: every candidate and the judge
        if getattr(r, "stopped", None) is not None:
            extra[AUTO_STOP_KEY] = r.stopped.to_dict()  # iterations: auto: where it stopped, why, the judge's scores
        if getattr(r, "threads", None):
            extra[THREADS_KEY] = r.threads  # CPU pixels depend on it: `--threads N` paints this picture again
        if self.levers is not None and self.levers.label != "fp32":
            extra[LEVERS_KEY] = self.levers.label  # rounding depends on them too (levers.json holds the choice)
        if video:
            frames = sorted(p for p in (self.dir / "frames" / str(r.id)).glob("*.png") if int(p.stem) <= r.iterations)
            if frames:
                mp4 = mp4_bytes(frames, video.fps)
                atomicio.write_bytes(self.dir / "animations" / f"{r.id}.mp4", mp4)
                extra[ANIMATION_KEY] = sha256_bytes(mp4)  # metadata and publish check the video against it
        record = RenderRecord(
            id=r.id, seed=seed, models=w.label, tiny=w.tiny, test_models=w.test_models, iterations=r.iterations, size=tuple(r.image.size),
            final_loss=r.final_loss, seconds=round(r.seconds, 3), device=r.device, settings=w.settings.to_dict(),
            prompt=w.token.prompt, image_sha256=sha256_bytes(png),
            extra=extra,
        )
        write_record(self.dir, record)
        note_picture(self.dir, r.id, w.seed, seed)  # a re-rolled token: rerolls.json names the picture's own seed
        self.state.done(r.id, w.fingerprint, r.iterations)
        (self.dir / checkpoint_rel(r.id)).unlink(missing_ok=True)
        return record

    def failed(self, token_id: int, error: str) -> None:
        self.state.failed(token_id, self.works[token_id].fingerprint, error)
