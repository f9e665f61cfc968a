"""Draws the stand-in sketch of Jax, the little robot, as a plain line drawing.

The artist's own sketch is theirs to supply through `render.init_image`; this one
lets the tool run out of the box. Re-run to regenerate `jax.png`:

    python collection/assets/draw_jax.py
"""

from __future__ import annotations

from pathlib import Path

from PIL import Image, ImageDraw

SIZE = 512
INK = (38, 34, 30)
PAPER = (246, 241, 228)
RUST = (183, 92, 48)


def draw_jax(size: int = SIZE) -> Image.Image:
    s = size / 512
    img = Image.new("RGB", (size, size), PAPER)
    d = ImageDraw.Draw(img)
    w = max(2, round(6 * s))

    def box(x0, y0, x1, y1, r=0, fill=None):
        d.rounded_rectangle([x0 * s, y0 * s, x1 * s, y1 * s], radius=r * s, outline=INK, width=w, fill=fill)

    def line(*pts):
        d.line([(x * s, y * s) for x, y in pts], fill=INK, width=w, joint="curve")

    def dot(x, y, r, fill=INK):
        d.ellipse([(x - r) * s, (y - r) * s, (x + r) * s, (y + r) * s], outline=INK, width=w, fill=fill)

    # antenna
    line((256, 92), (256, 132))
    dot(256, 80, 12, fill=RUST)
    # head with two round eyes and a grille mouth
    box(176, 132, 336, 244, r=28)
    dot(218, 182, 18, fill=PAPER)
    dot(294, 182, 18, fill=PAPER)
    dot(222, 184, 6)
    dot(290, 184, 6)
    for x in range(226, 296, 14):
        line((x, 214), (x, 230))
    # neck and body with a chest panel
    box(236, 244, 276, 262)
    box(160, 262, 352, 402, r=20)
    box(212, 292, 300, 352, r=10, fill=RUST)
    dot(232, 376, 7)
    dot(256, 376, 7)
    dot(280, 376, 7)
    # arms: one waving
    line((160, 290), (118, 340), (100, 386))
    dot(96, 398, 14)
    line((352, 290), (398, 250), (420, 200))
    dot(424, 188, 14)
    # legs and feet
    box(192, 402, 232, 456)
    box(280, 402, 320, 456)
    box(176, 456, 240, 478, r=8)
    box(272, 456, 336, 478, r=8)
    # ground
    line((80, 484), (432, 484))
    return img


if __name__ == "__main__":
    out = Path(__file__).with_name("jax.png")
    draw_jax().save(out, optimize=True)
    print(f"wrote {out}")
