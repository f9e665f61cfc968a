"""Story mode and zoom videos (issue 24 item 3): the schedules as pure functions, the loop that
follows them on the tiny models, and a token whose manifest asks for a zoom gets its video."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from generator.settings import RenderSettings
from generator.story import StoryStep, prompt_at, schedule, steps
from generator.zoom import ZoomSettings, frame_iterations, zoom_box, zoom_image, zoom_points
from tests.fixtures_generator import FAST

TINY = {**FAST, "checkpoint_every": 100}


# ---- the schedules ----------------------------------------------------------------------------

def test_caret_story_changes_every_n_iterations():
    sched = schedule("a red robot", "a robot in a volcano^a robot on the moon", 10)
    assert sched == ((0, "a red robot"), (10, "a robot in a volcano"), (20, "a robot on the moon"))
    seen = [prompt_at(sched, i) for i in range(30)]
    assert seen == ["a red robot"] * 10 + ["a robot in a volcano"] * 10 + ["a robot on the moon"] * 10


def test_list_story_sorts_replaces_the_start_and_keeps_the_token_prompt():
    story = (StoryStep(25, "{prompt} at night"), StoryStep(0, "{prompt}, sketch"))
    sched = schedule("a blue robot", story, None)
    assert sched == ((0, "a blue robot, sketch"), (25, "a blue robot at night"))
    assert prompt_at(sched, 24) == "a blue robot, sketch" and prompt_at(sched, 25) == "a blue robot at night"


@pytest.mark.parametrize("data, message", [
    ({"story": "b^c"}, "needs change_every"),
    ({"story": "b^^c", "change_every": 2}, "empty part"),
    ({"story": "b:abc^c", "change_every": 2}, "is not a number"),
    ({"story": "b^c", "change_every": 4}, "at or after the last one"),
    ({"story": [{"at": 2, "prompt": "x"}, {"at": 2, "prompt": "y"}]}, "same iteration"),
    ({"story": [{"at": 2, "prompt": "x"}], "change_every": 2}, "change_every goes with"),
    ({"zoom": {"frames": 3, "iterations": 3}}, "more than the render's 8"),
])
def test_bad_stories_and_zooms_are_refused_with_the_reason(data, message):
    with pytest.raises(ValueError, match=message):
        RenderSettings.from_dict({**TINY, **data})


def test_new_settings_round_trip_and_stay_out_of_plans_by_default():
    assert not {"story", "change_every", "zoom", "preview_every"} & set(RenderSettings.from_dict(TINY).to_dict())
    s = RenderSettings.from_dict({**TINY, "iterations": 40, "story": [{"at": 5, "prompt": "x"}],
                                  "zoom": {"frames": 2, "iterations": 3, "scale": 1.5}, "preview_every": 4})
    d = s.to_dict()
    assert d["story"] == [{"at": 5, "prompt": "x"}] and d["zoom"]["frames"] == 2
    assert RenderSettings.from_dict(json.loads(json.dumps(d))) == s


def test_zoom_schedule_takes_the_last_frames_times_iterations():
    z = ZoomSettings(frames=3, iterations=5, scale=1.1)
    assert zoom_points(40, z) == (25, 30, 35)
    assert frame_iterations(40, z) == (25, 30, 35, 40)


def test_zoom_image_is_the_centre_crop_enlarged():
    arr = np.zeros((40, 40, 3), np.uint8)
    arr[10:30, 10:30] = 255                       # a white square in the middle half
    out = np.asarray(zoom_image(Image.fromarray(arr), 2.0))
    assert zoom_box((40, 40), 2.0) == (10.0, 10.0, 30.0, 30.0)
    assert out.shape == (40, 40, 3) and out[5:35, 5:35].min() > 200   # the square now fills the picture


# ---- the loop ---------------------------------------------------------------------------------

def _job(settings: dict, prompt="a red robot", seed=5, checkpoint=None, init=None):
    from generator.loop import TokenJob

    return TokenJob(1, prompt, seed, RenderSettings.from_dict({**TINY, **settings}), init, (), checkpoint)


class Watching:
    """A Renderer that notes the prompt in force at every optimiser step (the real loop otherwise)."""

    def __new__(cls, models):
        from generator.loop import Renderer

        class _R(Renderer):
            seen: list[tuple[int, str]] = []

            def losses(self, states, images):
                self.seen.append((states[0].iteration, states[0].prompt))
                return super().losses(states, images)

        r = _R(models)
        r.seen = []
        return r


def test_the_loop_paints_each_step_with_the_prompt_in_force(tiny_models):
    from generator.loop import Callbacks, Interrupted

    settings = {"iterations": 9, "story": "a robot in a volcano^a robot on the moon", "change_every": 3}
    r = Watching(tiny_models)
    r.render([_job(settings)])
    sched = schedule("a red robot", settings["story"], 3)
    assert r.seen == [(i, prompt_at(sched, i)) for i in range(9)]
    assert {p for _, p in r.seen} == {"a red robot", "a robot in a volcano", "a robot on the moon"}

    # stopped at iteration 4, resumed: the resumed steps use the prompt of their iteration, not the first
    ck = {}
    stop = Callbacks(on_checkpoint=lambda tid, c: ck.update(c), should_stop=lambda: len(r2.seen) >= 4)
    r2 = Watching(tiny_models)
    with pytest.raises(Interrupted):
        r2.render([_job(settings)], stop)
    r3 = Watching(tiny_models)
    r3.render([_job(settings, checkpoint=ck)])
    assert r3.seen == [(i, prompt_at(sched, i)) for i in range(4, 9)]


def test_each_zoom_frame_starts_from_the_previous_frame_zoomed(tiny_models):
    """With a step too small to move the latent, each frame is the previous one zoomed and encoded,
    exactly; and it is not the previous frame itself (the zoom did something)."""
    import torch

    from generator.loop import Callbacks, Renderer, to_pil

    zoom = {"frames": 3, "iterations": 2, "scale": 1.6}
    frames: list[tuple[int, Image.Image]] = []
    cb = Callbacks(on_image=lambda tid, kind, it, img: frames.append((it, img)) if kind == "frame" else None)
    s = {"iterations": 8, "zoom": zoom, "step_size": 1e-9, "size": [48, 48]}
    r = Renderer(tiny_models)
    r.render([_job(s)], cb)
    assert [it for it, _ in frames] == [2, 4, 6, 8]           # F + 1 frames: the picture, then F zoomed ones
    settings = RenderSettings.from_dict({**TINY, **s})
    for (_, before), (_, after) in zip(frames, frames[1:]):
        with torch.no_grad():
            expected = to_pil(r.decode(r.encode_picture(zoom_image(before, 1.6), settings), settings)[0])
        a, e, b = (np.asarray(x, np.int16) for x in (after, expected, before))
        assert np.abs(a - e).max() <= 1, "a zoom frame is not the previous frame zoomed and repainted"
        assert np.abs(a - b).mean() > 2, "the frame did not change: no zoom happened"


def test_zoom_resumes_to_the_same_latent(tiny_models, sketch_image):
    """A render stopped inside the zoom (init weight on, so the zoomed init latent must come back
    from the checkpoint, and a story past its change) ends with the very latent of one never stopped."""
    import torch

    from generator.loop import Callbacks, Interrupted, Renderer

    s = {"iterations": 10, "zoom": {"frames": 3, "iterations": 2, "scale": 1.3}, "init_weight": 2.0,
         "story": "a robot on the moon", "change_every": 5}
    r = Renderer(tiny_models)
    whole = r.setup(_job(s, init=sketch_image))
    r.advance([whole], 10, Callbacks())
    ck, steps_done = {}, []
    cb = Callbacks(on_progress=lambda p: steps_done.append(p.iteration), on_checkpoint=lambda tid, c: ck.update(c),
                   should_stop=lambda: len(steps_done) >= 9)  # inside the last frame: only the checkpoint knows its start
    with pytest.raises(Interrupted):
        r.advance([r.setup(_job(s, init=sketch_image))], 10, cb)
    assert ck["iteration"] == 9 and "z_init" in ck
    resumed = r.setup(_job(s, init=sketch_image, checkpoint=ck))
    assert resumed.prompt == "a robot on the moon"
    r.advance([resumed], 10, Callbacks())
    assert torch.equal(whole.z, resumed.z)


@pytest.fixture
def sketch_image():
    from tests.fixtures_generator import sketch

    return sketch(32)


def test_a_token_with_zoom_gets_its_video_as_animation_url(make_build):
    """Through the build's render step and metadata: the zoom video is the token's animation."""
    from buildfiles.records import ANIMATION_KEY, read_record
    from collection.render.render_step import render_build
    from metadata.build import write_metadata

    build = make_build({"iterations": 6, "zoom": {"frames": 2, "iterations": 2, "scale": 1.2, "fps": 6}},
                       tokens=[{"prompt": "a rusty robot", "seed": 3}])
    report = render_build(build, progress=False)
    assert report.rendered == [1]
    frames = sorted(p.name for p in (build / "frames" / "1").glob("*.png"))
    assert frames == ["00002.png", "00004.png", "00006.png"]
    assert (build / "animations" / "1.mp4").stat().st_size > 0
    assert read_record(build, 1).extra[ANIMATION_KEY]
    write_metadata(build)
    meta = json.loads((build / "metadata" / "1.json").read_text())
    assert meta["animation_url"].endswith("/1.mp4")
