"""The demo pair: a small VQGAN and a small CLIP trained on a procedural world of Jax-like robots.

    world.py   the world: scenes drawn with PIL and captions made from the same words
    train.py   `python -m generator.demo.train`: trains both from a seed, writes the real file formats
    files.py   where the trained files live and their sha256s (checked before any unpickling)
    probe.py   held-out measures: Jax reconstruction PSNR, zero-shot accuracy per category
"""
