"""The placeholder a fair-reveal collection shows before `reveal`: BUILD/placeholder/.

    placeholder/placeholder.png    the collection banner, blurred past recognition and cropped square
                                   (a plain card when there is no banner): it hints at the look of
                                   the collection without showing any one token
    placeholder/placeholder.json   ERC-721 metadata; its image is the PNG's own CID (a file CID, so the
                                   JSON needs no folder CID, which would have to contain the JSON itself)

Made from the build's files only and byte-deterministic, so `sale` (which puts
ipfs://<folder CID>/placeholder.json on chain) and `publish` (which pins the folder) agree
on the CID without talking to each other. Made once: an existing, intact folder is kept.
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, ImageFilter

from buildfiles.atomicio import write_bytes
from buildfiles.plan import Plan
from metadata.pictures import BACKGROUND, DECODE_ERRORS
from metadata.unixfs import add_bytes, add_tree, cid_str

FOLDER = "placeholder"
IMAGE = "placeholder.png"
JSON = "placeholder.json"
SIDE = 512
BLUR = 48      # px radius at 512 px: shapes and colours survive, no token can be told apart


@dataclass(frozen=True)
class Placeholder:
    folder: Path
    cid: str                # the folder's root CID
    image_cid: str

    @property
    def uri(self) -> str:
        return f"ipfs://{self.cid}/{JSON}"


def placeholder_image(banner: Path | None) -> bytes:
    """PNG bytes: the banner's centre square blurred, or a plain card of the gallery's background."""
    im = None
    if banner is not None and banner.is_file():
        try:
            with Image.open(banner) as src:
                src = src.convert("RGB")
                w, h = src.size
                side = min(w, h)
                # the middle of the strip, widened to twice its height: more colours than one tile
                box_w = min(w, 2 * side)
                left = (w - box_w) // 2
                im = src.crop((left, 0, left + box_w, side)).resize((SIDE, SIDE), Image.Resampling.BILINEAR)
        except DECODE_ERRORS:
            im = None
    if im is None:
        im = Image.new("RGB", (SIDE, SIDE), BACKGROUND)
    im = im.filter(ImageFilter.GaussianBlur(BLUR))
    buf = io.BytesIO()
    im.save(buf, "PNG", optimize=False, compress_level=6)
    return buf.getvalue()


def placeholder_json(plan: Plan, image_cid: str) -> bytes:
    c = plan.collection
    doc = {
        "name": f"{c.name}: not revealed yet",
        "description": (f"A token of {c.name}. Its picture is revealed after the sale: an offset drawn from a "
                        "future block's hash decides which picture each token shows, so nobody picks them."),
        "image": f"ipfs://{image_cid}",
        "attributes": [{"trait_type": "Revealed", "value": "No"}],
    }
    return (json.dumps(doc, indent=2, sort_keys=True, ensure_ascii=False) + "\n").encode("utf-8")


def ensure_placeholder(build_dir: Path, plan: Plan) -> Placeholder:
    """BUILD/placeholder/ (made when missing or incomplete) and its CIDs."""
    folder = Path(build_dir) / FOLDER
    png, meta = folder / IMAGE, folder / JSON
    if not png.is_file():
        write_bytes(png, placeholder_image(Path(build_dir) / "images" / "banner.png"))
    image_cid = cid_str(add_bytes(png.read_bytes()).cid)
    want = placeholder_json(plan, image_cid)
    if not meta.is_file() or meta.read_bytes() != want:
        write_bytes(meta, want)
    root = add_tree({IMAGE: png, JSON: meta})
    return Placeholder(folder, cid_str(root.root.cid), image_cid)


def placeholder_tree(build_dir: Path) -> dict[str, Path]:
    folder = Path(build_dir) / FOLDER
    return {IMAGE: folder / IMAGE, JSON: folder / JSON}


MINT_FOLDER = "mint"     # the mint page engineer C's generator writes after `sale`


def folder_tree(folder: Path) -> dict:
    """A folder on disk as a unixfs Tree (names -> paths or nested trees); hidden files are left out."""
    out: dict = {}
    for p in sorted(folder.iterdir()):
        if p.name.startswith("."):
            continue
        out[p.name] = folder_tree(p) if p.is_dir() else p
    return out


def drop_trees(build_dir: Path, plan: Plan) -> dict[str, dict]:
    """The folders `publish` pins beside the collection when there is a drop: placeholder/ (made
    here when the plan's sale reveals fairly) and mint/ (when the page was generated)."""
    build_dir = Path(build_dir)
    out: dict[str, dict] = {}
    sale = plan.sale or {}
    if sale.get("reveal") == "fair" or (build_dir / FOLDER).is_dir():
        ensure_placeholder(build_dir, plan)
        out[FOLDER] = placeholder_tree(build_dir)
    mint = build_dir / MINT_FOLDER
    if mint.is_dir() and any(mint.iterdir()):
        out[MINT_FOLDER] = folder_tree(mint)
    return out
