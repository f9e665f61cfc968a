"""IPFS publishers: each uploads CAR files somewhere and proves the provider holds our roots."""

from __future__ import annotations

from buildfiles.urls import is_http_url, redact_url
from metadata.publishers.base import Publisher, PublishError, RetryPolicy

PROVIDERS = ("kubo", "pinata", "car")


def make_publisher(provider: str, build_dir, *, api: str | None = None, policy: RetryPolicy | None = None) -> Publisher:
    policy = policy or RetryPolicy()
    if api is not None and not is_http_url(api):
        raise PublishError(f"--api must be an http(s) address like http://127.0.0.1:5001, got {redact_url(api)!r}",
                           exit_code=2)
    if provider == "kubo":
        from metadata.publishers.kubo import KuboPublisher

        return KuboPublisher(api or "http://127.0.0.1:5001", policy)
    if provider == "pinata":
        from metadata.publishers.pinata import PinataPublisher

        return PinataPublisher.from_env(api, policy)
    if provider == "car":
        from metadata.publishers.car import CarPublisher

        return CarPublisher()
    raise ValueError(f"unknown provider {provider!r}")


__all__ = ["PROVIDERS", "Publisher", "PublishError", "RetryPolicy", "make_publisher"]
