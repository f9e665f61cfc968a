"""VQGAN+CLIP rendering. Never imports `metadata` or `contracts`."""
