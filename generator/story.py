"""Story mode: the prompt in force changes at set iterations (nerdyrodent's `^` prompts and `-cpe`).

A story is what follows a token's own prompt. Two spellings say the same thing:

    story: "a robot in a volcano^a robot on the moon"     change_every: 100
    story: [{at: 100, prompt: "a robot in a volcano"}, {at: 200, prompt: "a robot on the moon"}]

Both read as the schedule [(0, <token prompt>), (100, …volcano), (200, …moon)]: from iteration
`at` on (the step that takes the count from `at` to `at + 1`), that prompt replaces the one
before. A step at 0 replaces the token's prompt from the start; `{prompt}` in a step's text is
the token's own prompt, so a collection's story can keep each token's traits.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Sequence, Union

from pydantic import Field

SEPARATOR = "^"


@dataclass(frozen=True)
class StoryStep:
    __pydantic_config__ = {"extra": "forbid"}

    at: Annotated[int, Field(ge=0)]
    prompt: str


Story = Union[str, tuple[StoryStep, ...]]


def split_story(text: str) -> tuple[str, ...]:
    """"a^b^c" -> ("a", "b", "c"); an empty part is an error (a stray `^`)."""
    parts = tuple(p.strip() for p in text.split(SEPARATOR))
    if any(not p for p in parts):
        raise ValueError(f"story {text!r} has an empty part: write prompts between the `{SEPARATOR}` signs")
    return parts


def steps(story: Story, change_every: int | None) -> tuple[StoryStep, ...]:
    """A story as its steps, in order of iteration: the `^` form needs `change_every`."""
    if isinstance(story, str):
        if not story.strip():
            return ()
        if not change_every:
            raise ValueError("a story written with `^` needs change_every (the iterations each prompt lasts)")
        return tuple(StoryStep(change_every * (i + 1), p) for i, p in enumerate(split_story(story)))
    out = tuple(sorted(story, key=lambda s: s.at))
    seen = [s.at for s in out]
    if len(set(seen)) != len(seen):
        raise ValueError(f"story has two prompts at the same iteration: {sorted(a for a in seen if seen.count(a) > 1)[0]}")
    for s in out:
        if not s.prompt.strip():
            raise ValueError(f"story prompt at iteration {s.at} is empty")
    return out


def schedule(prompt: str, story: Story, change_every: int | None) -> tuple[tuple[int, str], ...]:
    """[(from iteration, prompt in force)], starting at 0 with the token's own prompt unless a step takes 0."""
    out = {0: prompt}
    for s in steps(story, change_every):
        out[s.at] = s.prompt.replace("{prompt}", prompt)
    return tuple(sorted(out.items()))


def prompt_at(sched: Sequence[tuple[int, str]], iteration: int) -> str:
    """The prompt in force for the step that starts at `iteration`."""
    current = sched[0][1]
    for at, p in sched:
        if at > iteration:
            break
        current = p
    return current


def check(story: Story, change_every: int | None, iterations: int) -> None:
    """ValueError naming the problem: a malformed story, or a change the render never reaches."""
    from generator.prompts import split_prompts

    for s in steps(story, change_every):
        split_prompts(s.prompt)  # a PromptError (a ValueError) names a weight that is not a number
    late = [s.at for s in steps(story, change_every) if s.at >= iterations]
    if late:
        raise ValueError(f"story changes the prompt at iteration {late[0]}, at or after the last one ({iterations}); "
                         "lower change_every or raise iterations")
    if change_every is not None and not isinstance(story, str):
        raise ValueError("change_every goes with a story written with `^`; a list of steps gives its own iterations")


def story_to_data(story: Story) -> str | list[dict]:
    """As plan.json stores it."""
    return story if isinstance(story, str) else [{"at": s.at, "prompt": s.prompt} for s in story]


def story_from_data(data) -> Story:
    """Back from plan.json (or a manifest's list of mappings)."""
    if isinstance(data, str):
        return data
    return tuple(s if isinstance(s, StoryStep) else StoryStep(int(s["at"]), str(s["prompt"])) for s in data)
