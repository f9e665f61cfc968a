"""IPFS URIs, made in one place: `ipfs://CID/path`, never a gateway URL."""

from __future__ import annotations


def ipfs_uri(cid: str, path: str = "") -> str:
    return f"ipfs://{cid}/{path}"


def base_uri(metadata_cid: str) -> str:
    """The contract's base URI: tokenURI(id) = base_uri + "{id}.json"."""
    return ipfs_uri(metadata_cid)


def contract_uri(metadata_cid: str) -> str:
    return ipfs_uri(metadata_cid, "collection.json")
