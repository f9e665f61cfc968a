"""VQGAN+CLIP rendering. Never imports `metadata` or `contracts`.

    registry.py   named VQGANs / CLIPs and their URLs; "tiny" for the test pair
    weights.py    cache folder, download with resume, sha256 checks before any unpickling
    tiny.py       the tiny random-weight pair, written in the real file formats
    models.py     load a VQGAN (yaml + ckpt) and a CLIP (state dict) into `Models`
    prompts.py    "text:weight:stop | ..." parsing
    ops.py        straight-through quantisation, clamp-with-grad
    cutouts.py    cutouts + kornia augments drawn from each token's own generators
    losses.py     spherical-distance prompt loss, init-weight term
    loop.py       `Renderer(models).render(jobs, callbacks)`: the batched loop; writes no files
    candidates.py best-of-K on top of the loop: successive halving over K seeds, scored by a judge CLIP
                  that is not the guide; `candidates.render`/`run_batch` take any batch, K = 1 included
    outputs.py    PNG with text chunks, H.264 MP4 from frames (bytes)
"""
