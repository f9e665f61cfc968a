"""The collectors' mint page: BUILD/mint/index.html, static and self-contained.

`write_mint_page(build_dir)` reads only build files (sale.json, metadata/collection.json and the
cover and banner under images/) and writes BUILD/mint/: index.html with everything inlined (style,
viem, the page's script, drop.json's data), drop.json itself, and the cover and banner beside it,
so the folder works from a file:// URL and from any IPFS gateway path. The page talks to the
contract through the collector's wallet; see mint.js.
"""

from __future__ import annotations

from pathlib import Path

from buildfiles.atomicio import write_bytes, write_json, write_text
from preview.mint_page.drop import contract_interface, drop_data, read_collection
from preview.mint_page.page import render_page
from preview.mint_page.sale_source import read_drop

MINT_DIR = "mint"
PAGE_FILE = "index.html"
DROP_FILE = "drop.json"

__all__ = ["write_mint_page", "MINT_DIR", "PAGE_FILE", "DROP_FILE"]


def write_mint_page(build_dir: Path) -> Path:
    """Write BUILD/mint/ (index.html, drop.json, cover and banner); returns the page's path."""
    build_dir = Path(build_dir)
    drop_source = read_drop(build_dir)
    coll = read_collection(build_dir)
    out = build_dir / MINT_DIR
    out.mkdir(parents=True, exist_ok=True)
    cover = _copy_beside(coll.cover, out, "cover")
    banner = _copy_beside(coll.banner, out, "banner")
    drop = drop_data(drop_source, coll, cover=cover, banner=banner, contract=contract_interface())
    write_json(out / DROP_FILE, drop)
    return write_text(out / PAGE_FILE, render_page(drop))


def _copy_beside(src: Path | None, out: Path, stem: str) -> str | None:
    """Copy a picture into mint/ under a fixed name (a relative path works from file:// and IPFS)."""
    if src is None:
        return None
    name = stem + src.suffix.lower()
    dest = out / name
    data = src.read_bytes()
    if not dest.is_file() or dest.read_bytes() != data:  # a re-run leaves an unchanged folder alone
        write_bytes(dest, data)
    return name
