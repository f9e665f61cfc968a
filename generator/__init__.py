"""VQGAN+CLIP rendering. Never imports `metadata`, `contracts`, `preview` or `collection`.

    settings.py   RenderSettings: the one typed description of how a token is painted (plan -> loop)
    registry.py   named VQGANs / CLIPs and their URLs and sha256s; "tiny" and "demo" for the small pairs
    weights.py    cache folder, download with resume, sha256 checks before any unpickling
    modelfiles.py a model file looked at before it is unpickled: one line naming the file and the fix
    tiny.py       the tiny random-weight pair, written in the real file formats
    vqgan.py      a taming VQModel built from its yaml, without the training loss
    models.py     load a VQGAN (yaml + ckpt) and a CLIP (state dict) into `Models`
    demo/         the demo pair trained on a toy world of Jax-like robots, and its training script
    prompts.py    "text:weight:stop | ..." parsing
    story.py      story mode: the prompt in force at each iteration
    zoom.py       zoom video: the last frames, each the one before zoomed and painted again
    ops.py        straight-through quantisation, clamp-with-grad
    cutouts.py    cutouts + kornia augments drawn from each token's own generators
    losses.py     spherical-distance prompt loss, init-weight term
    loop.py       `Renderer(models).render(jobs, callbacks)`: the batched loop; writes no files
    judges.py     which CLIP judges best-of-K candidates: one rule, torch-free
    candidates.py best-of-K on top of the loop: successive halving over K seeds, scored by a judge CLIP
                  that is not the guide; `candidates.render`/`run_batch` take any batch, K = 1 included
    outputs.py    PNG with text chunks, H.264 MP4 from frames (bytes)
"""
