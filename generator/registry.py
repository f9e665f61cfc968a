"""Named model weights: where each comes from and what file it becomes in the cache.

A models string is "<vqgan>+<clip>" (e.g. "vqgan_imagenet_f16_16384+ViT-B/32"), or
"tiny" for the random-weight test pair built by generator.tiny.
"""

from __future__ import annotations

from dataclasses import dataclass

from buildfiles.errors import UserError

TINY = "tiny"
_HEIBOX = "https://heibox.uni-heidelberg.de/d/{key}/files/?p=%2F{path}&dl=1"
_CLIP = "https://openaipublic.azureedge.net/clip/models/{sha}/{file}"


@dataclass(frozen=True)
class VQGANSpec:
    name: str
    config_url: str
    ckpt_url: str
    ckpt_mirrors: tuple[str, ...] = ()
    ckpt_sha256: str | None = None  # none published: recorded on first download, checked on every load

    @property
    def config_file(self) -> str:
        return f"vqgan/{self.name}.yaml"

    @property
    def ckpt_file(self) -> str:
        return f"vqgan/{self.name}.ckpt"

    @property
    def hash_file(self) -> str:
        return f"vqgan/{self.name}.sha256.json"


@dataclass(frozen=True)
class CLIPSpec:
    name: str
    url: str

    @property
    def sha256(self) -> str:
        # OpenAI publishes each file under a path segment that is its own sha256.
        return self.url.rsplit("/", 2)[-2]

    @property
    def file(self) -> str:
        return "clip/" + self.url.rsplit("/", 1)[-1]


def _heibox(name: str, key: str, config: str = "configs/model.yaml", ckpt: str = "ckpts/last.ckpt", mirrors=()) -> VQGANSpec:
    enc = lambda p: p.replace("/", "%2F")  # noqa: E731
    return VQGANSpec(name, _HEIBOX.format(key=key, path=enc(config)), _HEIBOX.format(key=key, path=enc(ckpt)), tuple(mirrors))


VQGANS: dict[str, VQGANSpec] = {
    s.name: s
    for s in (
        _heibox("vqgan_imagenet_f16_16384", "a7530b09fed84f80a887",
                mirrors=["https://github.com/mehdidc/feed_forward_vqgan_clip/releases/download/0.1/vqgan_imagenet_f16_16384.ckpt"]),
        _heibox("vqgan_imagenet_f16_1024", "8088892a516d4e3baf92"),
        _heibox("vqgan_gumbel_f8_8192", "2e5662443a6b4307b470"),
        VQGANSpec(
            "wikiart_16384",
            "http://eaidata.bmk.sh/data/Wikiart_16384/wikiart_f16_16384_8145600.yaml",
            "http://eaidata.bmk.sh/data/Wikiart_16384/wikiart_f16_16384_8145600.ckpt",
        ),
    )
}

CLIPS: dict[str, CLIPSpec] = {
    name: CLIPSpec(name, _CLIP.format(sha=sha, file=file))
    for name, sha, file in (
        ("ViT-B/32", "40d365715913c9da98579312b702a82c18be219cc2a73407c4526f58eba950af", "ViT-B-32.pt"),
        ("ViT-B/16", "5806e77cd80f8b59890b7e101eabd078d9fb84e6937f9e85e4ecb61988df416f", "ViT-B-16.pt"),
        ("ViT-L/14", "b8cca3fd41ae0c99ba7e8951adf17d267cdb84cd88be6f7c2e0eca1737a03836", "ViT-L-14.pt"),
        ("RN50", "afeb0e10f9e5a86da6080e35cf09123aca3b358a0c3e3b6c78a7b63bc04b6762", "RN50.pt"),
        ("RN101", "8fa8567bab74a42d41c5915025a8e4538c3bdbe8804a470a72f30b0d94fab599", "RN101.pt"),
        ("RN50x4", "7e526bd135e493cef0776de27d5f42653e6b4c8bf9e0f653bb11773263205fdd", "RN50x4.pt"),
    )
}

DEFAULT_VQGAN = "vqgan_imagenet_f16_16384"
DEFAULT_CLIP = "ViT-B/32"


@dataclass(frozen=True)
class ModelChoice:
    vqgan: str
    clip: str

    @property
    def tiny(self) -> bool:
        return self.vqgan == TINY

    def __str__(self) -> str:
        return TINY if self.tiny else f"{self.vqgan}+{self.clip}"


def parse_models(s: str | None) -> ModelChoice:
    """ "vqgan+clip" | "vqgan" | "tiny" -> ModelChoice, with a helpful error for unknown names."""
    s = (s or f"{DEFAULT_VQGAN}+{DEFAULT_CLIP}").strip()
    if s == TINY:
        return ModelChoice(TINY, TINY)
    vq, _, cl = s.partition("+")
    vq, cl = vq.strip(), (cl.strip() or DEFAULT_CLIP)
    if vq not in VQGANS:
        raise UserError(f"unknown VQGAN {vq!r} in models {s!r}", hint=f"choose one of: {', '.join(VQGANS)} (or 'tiny')", exit_code=2)
    if cl not in CLIPS:
        raise UserError(f"unknown CLIP {cl!r} in models {s!r}", hint=f"choose one of: {', '.join(CLIPS)}", exit_code=2)
    return ModelChoice(vq, cl)
