"""The artist's studio: one prompt painted (`paint`), a prompt's variations side by side (`variations`).

Both are small builds: they write a plan.json of one token (or one per grid cell) into their
folder and run the render step every build runs, so they paint with the same loop and
settings, resume after Ctrl-C from the latent checkpoint, and label test-model pictures.
"""
