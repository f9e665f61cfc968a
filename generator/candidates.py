"""Best-of-K: K seeds per token, kept cheap by successive halving, judged by a second CLIP.

    stage 0: all K candidates run to n/2^(R+1) iterations     (R = halvings = ceil(log2 K))
             -> scored, the better half go on
    stage j: the survivors run to n/2^(R+1-j)                -> scored, the better half go on
    last:    one candidate runs to n                         -> scored; it is the token's image

Token-iterations spent: K=2 1.25 n, K=4 1.5 n, K=8 1.75 n (n(1 + R/4) for powers of two), so
best-of-4 costs at most 1.5x the iterations of one render, plus the judge's forward passes.

The score is the cosine similarity between the prompt and the whole image (resized, no
cutouts, no augments) under a *judge* CLIP that is not the guide: the guide's own similarity
is exactly what the optimiser games, so it would reward adversarial pixels. Multi-prompt
strings score as the weighted mean over their texts, sum(w_i * cos_i) / sum(|w_i|), so a
negative prompt counts against. Ties break on the candidate's index (candidate 0 first),
after rounding scores to 6 decimals so that float noise between machines rarely flips a choice.

With `iterations: auto` (generator/autostop.py) the same judge scores every live candidate every
`auto_stop.every` iterations; the stages are those of max_iterations, and the last one's single
survivor per token stops when its scores stop improving. A plain render (K = 1) with auto-stop
runs through `render_autostop` here too, since it needs the judge.

Crash safety: the token's checkpoint holds every candidate (seed, score, stop iteration,
optimiser state of the live ones, their buffered snapshots/frames and the last image of the
dropped ones), so a resumed run continues the same halving. Snapshots and frames of a
candidate are held back until it wins, then handed to the callbacks as a plain render's are.
"""

from __future__ import annotations

import hashlib
import io
import math
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Sequence

import torch
import torch.nn.functional as F
from PIL import Image
from torch import Tensor, nn

from buildfiles.errors import UserError
from generator import autostop
from generator.cutouts import normalize
from generator.loop import Callbacks, Interrupted, TokenJob, make_batches, to_pil
from generator.prompts import split_prompts
from generator.judges import JudgeChoice, judge_choice  # noqa: F401 (the one rule; re-exported for callers)
from generator.registry import CLIPS, DEMO_JUDGE

CANDIDATES_FORMAT = "roboz-candidates/1"
SCORE_DECIMALS = 6


# ---- pure parts ---------------------------------------------------------------------------

@dataclass(frozen=True)
class Stage:
    until: int  # the iteration this stage runs its candidates to
    keep: int   # how many candidates per token go on after it is scored


def halving_schedule(iterations: int, k: int) -> tuple[Stage, ...]:
    """The stages of successive halving for K candidates and n iterations (see the module docstring).

    Stage ends double (n/2^(R+1), ..., n/4) and the last stage runs one candidate to n.
    Very short renders may squeeze stages together, never past n; K = 1 is one stage.
    """
    if k < 1 or iterations < 1:
        raise ValueError("need k >= 1 and iterations >= 1")
    counts = [k]
    while counts[-1] > 1:
        counts.append(math.ceil(counts[-1] / 2))
    r = len(counts) - 1
    stages, prev = [], 0
    for j in range(r):
        until = max(prev + 1, round(iterations / 2 ** (r + 1 - j)))
        until = min(until, iterations)
        stages.append(Stage(until, counts[j + 1]))
        prev = until
    stages.append(Stage(iterations, 1))
    # Stages squeezed onto the same iteration collapse into the last one of them.
    out: list[Stage] = []
    for s in stages:
        if out and out[-1].until == s.until:
            out[-1] = s
        else:
            out.append(s)
    return tuple(out)


def schedule_cost(iterations: int, k: int) -> int:
    """Token-iterations the schedule spends (K = 1 spends `iterations`)."""
    alive, prev, total = k, 0, 0
    for s in halving_schedule(iterations, k):
        total += alive * (s.until - prev)
        alive, prev = s.keep, s.until
    return total


def candidate_seed(seed: int, index: int) -> int:
    """Candidate 0 is the token's own seed (so K = 1 renders exactly what it always did); the
    others hang on (seed, index) by hashing, 32-bit like planned seeds."""
    if index == 0:
        return seed
    h = hashlib.sha256(f"roboz-candidate\x1f{seed}\x1f{index}".encode()).digest()
    return int.from_bytes(h[:4], "big")


def rank(scores: Sequence[float]) -> list[int]:
    """Indices best first: higher score wins; equal (to SCORE_DECIMALS) scores keep index order."""
    def key(i: int):
        s = scores[i]
        return (0 if math.isfinite(s) else 1, -round(s, SCORE_DECIMALS) if math.isfinite(s) else 0.0, i)

    return sorted(range(len(scores)), key=key)


# ---- the judge ----------------------------------------------------------------------------

class Judge:
    """Scores whole images against a prompt with one CLIP."""

    def __init__(self, clip_model: nn.Module, label: str, device: torch.device | str):
        self.clip = clip_model
        self.label = label
        self.device = torch.device(device)
        self._texts: dict[str, tuple[Tensor, Tensor]] = {}

    @torch.no_grad()
    def _prompt(self, prompt: str) -> tuple[Tensor, Tensor]:
        if prompt not in self._texts:
            import clip

            specs = split_prompts(prompt) or [split_prompts("image")[0]]
            tok = clip.tokenize([p.text for p in specs], truncate=True).to(self.device)
            emb = F.normalize(self.clip.encode_text(tok).float(), dim=-1)
            w = torch.tensor([p.weight for p in specs], dtype=torch.float32, device=self.device)
            self._texts[prompt] = (emb, w)
        return self._texts[prompt]

    @torch.no_grad()
    def score(self, images: Tensor, prompts: Sequence[str]) -> list[float]:
        """(B,3,H,W) in [0,1] and one prompt per image -> one score per image."""
        res = self.clip.visual.input_resolution
        x = F.interpolate(images.float().to(self.device), size=(res, res), mode="bicubic", antialias=True,
                          align_corners=False).clamp(0, 1)
        emb = F.normalize(self.clip.encode_image(normalize(x)).float(), dim=-1)
        out = []
        for i, p in enumerate(prompts):
            texts, w = self._prompt(p)
            cos = texts @ emb[i]
            out.append(float((w * cos).sum() / w.abs().sum().clamp_min(1e-8)))
        return out


def load_judge(choice: JudgeChoice, guide, models_dir: Path | None = None) -> Judge:
    """The judge for `choice`; `guide` is the loaded generator.models.Models (its CLIP when `own`)."""
    if choice.own:
        return Judge(guide.clip, choice.label, guide.device)
    from generator import weights
    from generator.models import load_clip

    if choice.clip == DEMO_JUDGE:  # ships in the package beside the demo pair, its sha256 in the code
        from generator.demo.files import judge_file

        return Judge(load_clip(judge_file()).to(guide.device), choice.label, guide.device)

    spec = CLIPS[choice.clip]
    root = weights.models_root(models_dir)
    path = root / spec.file
    if not path.exists():
        raise UserError(f"the judge CLIP {choice.clip} (render.judge) is missing: {path}",
                        hint=f"run `{weights.fetch_command(choice.clip, models_dir)}`, or set render.judge "
                             f"to a CLIP you have (not the guide's own)")
    weights.verify_sha256(path, spec.sha256, f"CLIP {spec.name}")
    return Judge(load_clip(path).to(guide.device), choice.label, guide.device)


# ---- auto-stop ---------------------------------------------------------------------------

def judge_due(renderer, judge: Judge, states: Sequence) -> None:
    """Score the states that stand at a judgement iteration they have no score for yet (every
    `auto_stop.every`; a resumed checkpoint may have been written just before its score)."""
    rule = states[0].job.settings.auto_stop
    for st in states:
        if len(st.scores) < autostop.judged_at(st.iteration, rule):
            # one token at a time: a batched decode would round differently with the batch's make-up,
            # and a resumed token (alone, or in another batch) must see the very same scores
            st.scores.append(judge.score(renderer.current_images([st]), [st.job.prompt])[0])
            if autostop.best_judgement(st.scores) == len(st.scores) - 1:
                st.best_z = st.z.detach().clone()


def advance_judged(renderer, judge: Judge, states: Sequence, until: int, cb, on_converged=None) -> list:
    """Renderer.advance to `until`, judging every `auto_stop.every` iterations on the way.

    With `on_converged`, a state whose scores stopped improving leaves at once (the others go on
    without it) and is handed to on_converged; returns the states still in (all at `until`)."""
    rule = states[0].job.settings.auto_stop
    live = list(states)
    while live:
        judge_due(renderer, judge, live)
        if on_converged is not None:
            gone = [st for st in live if autostop.converged(st.scores, rule)]
            if gone:
                live = [st for st in live if st not in gone]
                on_converged(gone)
        if not live or live[0].iteration >= until:
            break
        renderer.advance(live, autostop.next_judgement(live[0].iteration, until, rule), cb)
    return live


def final_score(renderer, judge: Judge, st) -> float:
    """The judge's score of the state's picture as it stands (its last judgement when it stands there)."""
    rule = st.job.settings.auto_stop
    if st.scores and st.iteration % rule.every == 0 and len(st.scores) == autostop.judged_at(st.iteration, rule):
        return st.scores[-1]
    return judge.score(renderer.current_images([st]), [st.job.prompt])[0]


def keep_best(renderer, judge: Judge, st) -> float:
    """A stopped token takes back the picture of its best judgement when that beats its last picture
    (z restored, st.kept set to its iteration); returns the kept picture's score."""
    last = final_score(renderer, judge, st)
    best = autostop.best_judgement(st.scores)
    if st.kept is None:
        st.kept = st.iteration
        if best is not None and st.best_z is not None and st.scores[best] > last:
            with torch.no_grad():
                st.z.copy_(st.best_z)
            st.kept = (best + 1) * st.job.settings.auto_stop.every
    return st.scores[best] if st.kept != st.iteration else last


def stopped(st, score: float, judge: Judge) -> autostop.Stopped:
    s = st.job.settings
    reason = autostop.stop_reason(st.scores, st.iteration, s.iterations, s.auto_stop)
    return autostop.Stopped(reason or autostop.MAX_ITERATIONS, st.iteration, score, tuple(st.scores), judge.label, st.kept)


def render_autostop(renderer, judge: Judge, jobs: Sequence, cb) -> list:
    """A plain render (K = 1) of `iterations: auto` jobs: each token ends when its judge score stops
    improving, or at max_iterations. A token that ends is finished at once (its image and record
    written) while the rest of its batch paints on. Results come back in the jobs' order."""
    renderer.use_threads(jobs)
    states = [renderer.setup(j) for j in jobs]
    for st in states:
        st.batch_size = len(states)
    out: dict[int, Any] = {}

    def done(sts: list) -> None:
        for st in sts:
            score = keep_best(renderer, judge, st)
            r = renderer.finish([st], Callbacks(on_image=cb.on_image))[0]
            r = replace(r, stopped=stopped(st, score, judge))
            cb.on_result(r)
            out[st.job.id] = r

    rest = advance_judged(renderer, judge, states, jobs[0].settings.iterations, cb, on_converged=done)
    done(rest)
    return [out[j.id] for j in jobs]


# ---- the halving loop ---------------------------------------------------------------------

@dataclass(frozen=True)
class Candidate:
    """One seed's outcome, as renders/{id}.json lists it (plus its last image)."""

    seed: int
    score: float
    stop_iteration: int
    image: Image.Image | None = field(default=None, compare=False)

    def to_dict(self) -> dict[str, Any]:
        return {"seed": self.seed, "score": round(self.score, SCORE_DECIMALS) if math.isfinite(self.score) else None,
                "stop_iteration": self.stop_iteration}


@dataclass
class _Cand:
    index: int
    seed: int
    state: Any = None                 # generator.loop.TokenState while alive
    ckpt: dict | None = None          # its last checkpoint (None: from the start)
    ckpt_images: list = field(default_factory=list)
    images: list = field(default_factory=list)  # (kind, iteration, png bytes) held back until it wins
    score: float | None = None
    stop: int | None = None
    last_png: bytes | None = None

    @property
    def alive(self) -> bool:
        return self.stop is None


@dataclass
class _Token:
    job: Any
    cands: list[_Cand]
    stage: int = 0
    prior_seconds: float = 0.0


def _png(img: Image.Image) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return buf.getvalue()


def _unpng(data: bytes) -> Image.Image:
    return Image.open(io.BytesIO(data)).convert("RGB")


def _restore(job) -> _Token:
    s = job.settings
    ck = job.checkpoint if job.checkpoint and job.checkpoint.get("format") == CANDIDATES_FORMAT else None
    if ck is None:
        return _Token(job, [_Cand(i, candidate_seed(job.seed, i)) for i in range(s.candidates)])
    cands = []
    for c in ck["candidates"]:
        cands.append(_Cand(int(c["index"]), int(c["seed"]), ckpt=c.get("state"), ckpt_images=list(c.get("images") or []),
                           images=list(c.get("images") or []), score=c.get("score"), stop=c.get("stop_iteration"),
                           last_png=c.get("last_png")))
    return _Token(job, cands, int(ck["stage"]), float(ck.get("seconds", 0.0)))


def _checkpoint(tok: _Token, seconds: float) -> dict[str, Any]:
    live = [c.ckpt["iteration"] for c in tok.cands if c.alive and c.ckpt]
    return {
        "format": CANDIDATES_FORMAT,
        "id": tok.job.id,
        "iteration": max(live) if live else 0,
        "stage": tok.stage,
        "seconds": seconds,
        "candidates": [{"index": c.index, "seed": c.seed, "score": c.score, "stop_iteration": c.stop,
                        "state": c.ckpt if c.alive else None, "images": c.ckpt_images if c.alive else [],
                        "last_png": c.last_png} for c in tok.cands],
    }


def render_candidates(renderer, judge: Judge, jobs: Sequence, cb) -> list:
    """Best-of-K for a batch of jobs that share settings (one batch from generator.loop.make_batches).

    Candidates of all the batch's tokens advance together, settings.batch_size at a time.
    Returns one generator.loop.TokenResult per token: the winner's image and seed, every candidate.
    """
    s = jobs[0].settings
    schedule = halving_schedule(s.iterations, s.candidates)
    threads = renderer.use_threads(jobs)  # a resumed batch paints with the count its checkpoint recorded
    tokens = [_restore(j) for j in jobs]
    t0 = time.perf_counter()

    def seconds(tok: _Token) -> float:
        return tok.prior_seconds + (time.perf_counter() - t0) / len(tokens)

    def emit(tok: _Token) -> None:
        cb.on_checkpoint(tok.job.id, {**_checkpoint(tok, seconds(tok)), "threads": threads})

    # Each live candidate runs as a job of its own, under a private id (negative: never a token's),
    # so the loop's callbacks say which candidate they are about.
    ids: dict[int, tuple[_Token, _Cand]] = {}

    chunk_ids: dict[int, set[int]] = {}  # token -> its candidates in the chunk being advanced
    reported: dict[int, set[int]] = {}

    def on_ck(cid: int, ck: dict) -> None:
        """A candidate's state; once all of its token's candidates in this chunk reported, the token's file."""
        tok, cand = ids[cid]
        cand.ckpt, cand.ckpt_images = ck, list(cand.images)
        got = reported.setdefault(id(tok), set())
        got.add(cid)
        if got >= chunk_ids[id(tok)]:
            emit(tok)
            got.clear()

    def on_img(cid: int, kind: str, it: int, img) -> None:
        ids[cid][1].images.append((kind, it, _png(img)))

    def on_progress(p) -> None:
        cb.on_progress(replace(p, token_ids=tuple(ids[i][0].job.id for i in p.token_ids)))

    inner = Callbacks(on_progress=on_progress, on_checkpoint=on_ck, on_image=on_img, should_stop=cb.should_stop)

    def converged_cands(states: list) -> None:
        """iterations: auto: a last-stage candidate that stopped keeps its state as it stopped, so a
        resumed run finds it stopped there too."""
        for st in states:
            c = ids[st.job.id][1]
            c.ckpt, c.ckpt_images = st.checkpoint(), list(c.images)

    # Set up the live candidates (resumed ones from their own checkpoints).
    for tok in tokens:
        for c in tok.cands:
            if c.alive:
                cid = -(len(ids) + 1)
                ids[cid] = (tok, c)
                cj = TokenJob(cid, tok.job.prompt, c.seed, s, tok.job.init_image, tok.job.image_prompts, c.ckpt)
                c.state = renderer.setup(cj)

    try:
        for j in range(min(t.stage for t in tokens), len(schedule)):
            stage = schedule[j]
            live = [c.state for t in tokens if t.stage == j for c in t.cands if c.alive]
            # advance() needs one iteration per call: resumed candidates may stand at different ones.
            groups: dict[int, list] = {}
            for st in live:
                groups.setdefault(st.iteration, []).append(st)
            for _it, group in sorted(groups.items()):
                for i in range(0, len(group), s.batch_size):
                    chunk = group[i : i + s.batch_size]
                    for st in chunk:
                        st.batch_size = len(chunk)
                    chunk_ids.clear()
                    reported.clear()
                    for st in chunk:
                        chunk_ids.setdefault(id(ids[st.job.id][0]), set()).add(st.job.id)
                    if s.auto_stop:  # every candidate judged on the way; the last stage's may stop early
                        advance_judged(renderer, judge, chunk, stage.until, inner,
                                       on_converged=converged_cands if j == len(schedule) - 1 else None)
                    else:
                        renderer.advance(chunk, stage.until, inner)
            staged = [t for t in tokens if t.stage == j]
            if not staged:
                continue
            # Score every live candidate at the stage's end, keep the better ones.
            for t in staged:
                alive = [c for c in t.cands if c.alive]
                if s.auto_stop and j == len(schedule) - 1:  # each ranked by the picture it would keep
                    for c in alive:
                        keep_best(renderer, judge, c.state)
                images = renderer.current_images([c.state for c in alive])
                scores = judge.score(images, [t.job.prompt] * len(alive))
                for c, sc, img in zip(alive, scores, images):
                    c.score = sc
                order = rank(scores)
                keep = {alive[i].index for i in order[: stage.keep]}
                last = j == len(schedule) - 1
                for i, c in enumerate(alive):
                    if c.index not in keep or last:
                        c.stop = c.state.iteration  # stage.until, or sooner when iterations: auto stopped it
                        if c.index not in keep:
                            c.last_png = _png(to_pil(images[i]))
                            c.state, c.ckpt, c.images, c.ckpt_images = None, None, [], []
                    else:
                        c.ckpt, c.ckpt_images = c.state.checkpoint(), list(c.images)
                t.stage = j + 1
                if not last:
                    emit(t)
    except Interrupted:
        for t in tokens:  # those already checkpointed by advance() are rewritten, same content
            emit(t)
        raise

    results = []
    for t in tokens:
        winner = next(c for c in t.cands if c.state is not None)
        for kind, it, data in winner.images:  # the winner's held-back snapshots and frames
            cb.on_image(t.job.id, kind, it, _unpng(data))
        winner.state.batch_size = 1
        r = renderer.finish([winner.state], Callbacks(on_image=lambda _cid, kind, it, img: cb.on_image(t.job.id, kind, it, img)))[0]
        cands = tuple(Candidate(c.seed, float(c.score), int(c.stop),
                                r.image if c is winner else (_unpng(c.last_png) if c.last_png else None))
                      for c in sorted(t.cands, key=lambda c: c.index))
        res = replace(r, id=t.job.id, seed=winner.seed, candidates=cands, judge=judge.label, seconds=seconds(t),
                      stopped=stopped(winner.state, float(winner.score), judge) if s.auto_stop else None)
        cb.on_result(res)
        results.append(res)
    return results


def run_batch(renderer, jobs: Sequence, cb, judge: Judge | None) -> list:
    """One batch from generator.loop.make_batches: best-of-K when it asks for candidates, auto-stop when
    its iterations are auto, else a plain render."""
    s = jobs[0].settings
    if (s.candidates > 1 or s.auto_stop) and judge is None:
        raise ValueError("best-of-K and iterations: auto need a judge (generator.candidates.Judge)")
    if s.candidates > 1:
        return render_candidates(renderer, judge, jobs, cb)
    if s.auto_stop:
        return render_autostop(renderer, judge, jobs, cb)
    return renderer.render_batch(jobs, cb)


def render(renderer, jobs, callbacks=None, judge: Judge | None = None) -> list:
    """Renderer.render, with best-of-K for the jobs whose settings ask for candidates."""
    cb = callbacks or Callbacks()
    out: list = []
    for batch in make_batches(list(jobs)):
        out.extend(run_batch(renderer, batch, cb, judge))
    return out
