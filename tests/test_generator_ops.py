"""Pure pieces of the loop: straight-through quantisation, clamp-with-grad, prompt parsing, losses."""

import math

import pytest
import torch

from generator.losses import prompt_loss, spherical_dist_sq
from generator.ops import clamp_with_grad, replace_grad, vector_quantize
from generator.prompts import PromptSpec, parse_noise_prompt, parse_prompt, split_prompts


def test_vector_quantize_snaps_to_nearest_code_and_passes_gradient_straight_through():
    codebook = torch.tensor([[0.0, 0.0], [1.0, 1.0], [-1.0, 2.0]])
    z = torch.tensor([[0.9, 1.2], [-0.8, 1.7]]).T.reshape(1, 2, 1, 2).clone().requires_grad_(True)
    q = vector_quantize(z, codebook)
    assert torch.equal(q[0, :, 0, 0], torch.tensor([1.0, 1.0]))
    assert torch.equal(q[0, :, 0, 1], torch.tensor([-1.0, 2.0]))
    w = torch.randn_like(q)
    (q * w).sum().backward()
    # argmin has no gradient; straight-through gives z exactly the gradient q received.
    assert torch.equal(z.grad, w)


def test_replace_grad_value_and_gradient():
    a = torch.tensor([3.0], requires_grad=True)
    b = torch.tensor([5.0], requires_grad=True)
    y = replace_grad(a * 2, b * 7)
    assert y.item() == 6.0
    y.backward()
    assert a.grad is None and b.grad.item() == 7.0


@pytest.mark.parametrize(
    "x, g, passes",
    [
        (0.5, 1.0, True), (0.5, -1.0, True),     # in range: everything passes
        (-0.5, -1.0, True), (-0.5, 1.0, False),  # below: only a step upward (negative grad) passes
        (1.5, 1.0, True), (1.5, -1.0, False),    # above: only a step downward (positive grad) passes
    ],
)
def test_clamp_with_grad_only_passes_gradients_back_into_range(x, g, passes):
    t = torch.tensor([x], requires_grad=True)
    y = clamp_with_grad(t, 0.0, 1.0)
    assert y.item() == min(max(x, 0.0), 1.0)
    (y * g).sum().backward()
    assert t.grad.item() == (g if passes else 0.0)


def test_prompt_parsing():
    assert split_prompts("a:1 | b:-0.5:0.2") == [PromptSpec("a", 1.0), PromptSpec("b", -0.5, 0.2)]
    assert parse_prompt("a rusty robot") == PromptSpec("a rusty robot", 1.0, -math.inf)
    assert parse_prompt("photo: jax:2") == PromptSpec("photo: jax", 2.0)          # ':' inside text survives
    assert parse_prompt("https://x.org/a.png:0.5") == PromptSpec("https://x.org/a.png", 0.5)
    assert split_prompts(" | a |  ") == [PromptSpec("a")]
    assert parse_noise_prompt("123:0.25") == (123, 0.25)


def test_spherical_distance_zero_for_same_direction_and_max_for_opposite():
    x = torch.tensor([[1.0, 0.0]])
    assert spherical_dist_sq(x, x * 3).item() == pytest.approx(0.0, abs=1e-6)
    assert spherical_dist_sq(x, -x).item() == pytest.approx(2 * (math.pi / 2) ** 2, rel=1e-5)


def test_negative_weight_pushes_away_and_stop_cuts_the_gradient():
    target = torch.tensor([[1.0, 0.0]])
    e = torch.tensor([[0.8, 0.6]], requires_grad=True)
    pos = prompt_loss(e, target, 1.0, -math.inf)
    neg = prompt_loss(e, target, -1.0, -math.inf)
    assert neg.item() == pytest.approx(-pos.item())
    (g_pos,) = torch.autograd.grad(pos, e)
    (g_neg,) = torch.autograd.grad(neg, e)
    assert torch.allclose(g_pos, -g_neg)
    # distance is ~0.41: a stop above it means this prompt has done its job and stops pulling
    stopped = prompt_loss(e, target, 1.0, 1.0)
    assert stopped.item() == pytest.approx(pos.item())
    (g_stop,) = torch.autograd.grad(stopped, e)
    assert torch.count_nonzero(g_stop) == 0
