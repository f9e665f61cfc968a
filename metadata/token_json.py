"""ERC-721 / OpenSea token metadata and ERC-7572 contract metadata, as pure functions.

Media layout (one CID per folder, so every URI is final before anything is uploaded):
  images/      {id}.png for every token, plus `collection.<ext>` when the manifest names a
               collection image             -> ipfs://<imagesCID>/{id}.png
  animations/  {id}.mp4 progress videos     -> ipfs://<animationsCID>/{id}.mp4 (own folder, own CID,
               so the images CID stays exactly the images and videos are optional per token)
  metadata/    {id}.json + collection.json  -> tokenURI = ipfs://<metadataCID>/{id}.json,
               contractURI = ipfs://<metadataCID>/collection.json
The metadata refers to the media CIDs, so media are hashed first. URIs are always
ipfs://, never a gateway URL.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from buildfiles.errors import UserError
from buildfiles.ipfs import ipfs_uri
from buildfiles.plan import CollectionInfo, PlannedToken
from buildfiles.records import RenderRecord
from buildfiles.urls import is_http_url

TEST_MODEL_TRAIT = "Test render"


@dataclass(frozen=True)
class RenderFacts:
    """What renders/{id}.json says about how the image was made."""

    iterations: int | None
    seed: int | None
    models: str | None
    tiny: bool
    test_models: str | None = None  # the label of the test pair that made the image (tiny, demo)

    @classmethod
    def from_record(cls, r: RenderRecord) -> "RenderFacts":
        label = r.test_models or ("tiny random-weight models" if r.tiny else None)
        return cls(r.iterations, r.seed, models_label(r.models), bool(r.tiny), label)


def models_label(models: Any) -> str | None:
    """renders/{id}.json may name models as a string, a list, or {"vqgan": .., "clip": ..}."""
    if models is None:
        return None
    if isinstance(models, str):
        return models
    if isinstance(models, dict):
        return " + ".join(str(v) for v in models.values())
    return " + ".join(str(m) for m in models)


def token_attributes(token: PlannedToken, facts: RenderFacts) -> list[dict[str, Any]]:
    attrs: list[dict[str, Any]] = [{"trait_type": k, "value": v} for k, v in token.traits.items()]
    if token.special:
        attrs.append({"trait_type": "Special", "value": token.special})
    if facts.models:
        attrs.append({"trait_type": "Model", "value": facts.models})
    if facts.test_models:
        # Images from test models (tiny random weights, the demo pair) must never pass for real renders.
        attrs.append({"trait_type": TEST_MODEL_TRAIT, "value": facts.test_models})
    if facts.iterations is not None:
        attrs.append({"trait_type": "Iterations", "value": int(facts.iterations), "display_type": "number"})
    seed = facts.seed if facts.seed is not None else token.seed
    # A seed is an identifier, not a quantity: a plain number, without display_type "number"
    # (which marketplaces draw as a progress bar against max_value).
    attrs.append({"trait_type": "Seed", "value": int(seed)})
    return attrs


def token_metadata(
    token: PlannedToken,
    info: CollectionInfo,
    facts: RenderFacts,
    images_cid: str,
    animations_cid: str | None,
    background_color: str | None = None,
) -> dict[str, Any]:
    md: dict[str, Any] = {
        "name": token.name,
        "description": info.description,
        "image": ipfs_uri(images_cid, f"{token.id}.png"),
        "attributes": token_attributes(token, facts),
    }
    if animations_cid:
        md["animation_url"] = ipfs_uri(animations_cid, f"{token.id}.mp4")
    if info.external_url:
        md["external_url"] = web_link(info.external_url.replace("{id}", str(token.id)))
    if background_color:
        md["background_color"] = background_color.lstrip("#").lower()
    return md


def web_link(url: str) -> str:
    """Marketplaces render external_url as a link: anything but http(s) (javascript:, data:, file:) is refused."""
    if not is_http_url(url):
        raise UserError(f"collection.external_url must be an http(s) URL, got {url[:80]!r}",
                        hint="fix collection.external_url in the manifest, then run `roboz-collection plan` (or `build`) again",
                        exit_code=2)
    return url


def _site_of(url: str) -> str:
    """A per-token URL template ("https://x.io/token/{id}") links the collection to the site itself."""
    if "{id}" not in url:
        return url
    u = urlsplit(url)
    return f"{u.scheme}://{u.netloc}/"


def collection_metadata(info: CollectionInfo, image_uri: str, banner_uri: str) -> dict[str, Any]:
    """ERC-7572 contractURI JSON; OpenSea's royalty fields mirror the ERC-2981 settings on chain."""
    md: dict[str, Any] = {
        "name": info.name,
        "symbol": info.symbol,
        "description": info.description,
        "image": image_uri,
        "banner_image": banner_uri,
    }
    if info.external_url:
        md["external_link"] = web_link(_site_of(info.external_url))
    if info.royalties:
        md["seller_fee_basis_points"] = info.royalties.bps
        md["fee_recipient"] = info.royalties.receiver
    return md
