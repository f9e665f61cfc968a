"""Building a taming VQGAN from its yaml config, without the training loss.

Its own module because both the loader (generator.models) and the writers of generated
models (generator.tiny) need it, and neither may import the other back.
"""

from __future__ import annotations

import contextlib
import io
import warnings

from torch import nn

DUMMY_LOSS = {"target": "taming.modules.losses.vqperceptual.DummyLoss"}


def vqgan_from_config(config) -> nn.Module:
    """Build the (untrained) VQGAN a yaml config describes, with the training loss swapped for DummyLoss.

    The published configs name VQLPIPSWithDiscriminator, whose constructor downloads VGG16
    weights into a CWD-relative folder; rendering never needs a loss.
    """
    from omegaconf import OmegaConf

    with warnings.catch_warnings():  # Lightning 1.9 deprecation chatter on taming's import
        warnings.simplefilter("ignore")
        import pytorch_lightning  # noqa: F401  on import it puts its own warning filters first,
        warnings.simplefilter("ignore")  # so ours go back in front before taming triggers them
        from taming.models import vqgan as taming_vqgan

    config = OmegaConf.create(OmegaConf.to_container(config, resolve=True))
    params = config.model.params
    params.lossconfig = OmegaConf.create(DUMMY_LOSS)
    params.pop("ckpt_path", None)
    target = config.model.target.rsplit(".", 1)[-1]
    cls = {"VQModel": taming_vqgan.VQModel, "GumbelVQ": taming_vqgan.GumbelVQ}.get(target)
    if cls is None:
        raise ValueError(f"unsupported VQGAN class {config.model.target!r}")
    with contextlib.redirect_stdout(io.StringIO()):  # taming prints "Working with z of shape ..."
        return cls(**params)
