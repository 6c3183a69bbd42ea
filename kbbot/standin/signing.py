"""Slack's v0 request signature, as Slack computes it for every request it sends to an app."""

from __future__ import annotations

import hashlib
import hmac
import time


def sign(body: str, *, secret: str, timestamp: int) -> str:
    """Slack's v0 request signature: HMAC-SHA256 of `v0:{timestamp}:{body}` keyed by the signing secret."""
    base = f"v0:{timestamp}:{body}".encode()
    return "v0=" + hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()


def signed_headers(
    body: str,
    *,
    secret: str,
    content_type: str,
    timestamp: int | None = None,
    retry_num: int | None = None,
    retry_reason: str = "http_timeout",
) -> dict[str, str]:
    ts = int(time.time()) if timestamp is None else timestamp
    headers = {
        "Content-Type": content_type,
        "X-Slack-Request-Timestamp": str(ts),
        "X-Slack-Signature": sign(body, secret=secret, timestamp=ts),
    }
    if retry_num is not None:
        headers["X-Slack-Retry-Num"] = str(retry_num)
        headers["X-Slack-Retry-Reason"] = retry_reason
    return headers

