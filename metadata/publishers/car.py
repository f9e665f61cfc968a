"""The `car` provider: CAR files in build/car/ for upload by hand elsewhere (Filebase, Storacha, ...)."""

from __future__ import annotations

from pathlib import Path
from typing import Callable

from metadata.publishers.base import Publisher


class CarPublisher(Publisher):
    name = "car"
    endpoint = "car/"
    pins = False

    def has(self, root: str, log: Callable[[str], None] = print) -> bool:
        return False  # the CARs themselves are the product; publish.py reuses an intact one

    def upload(self, car: Path, root: str, log: Callable[[str], None] = print) -> str:
        return f"{car} holds {root}: upload it as a CAR to any IPFS service"
