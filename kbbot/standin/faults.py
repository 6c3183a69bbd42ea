"""The ways the stand-in's Web API can misbehave, queued per method and consumed one call at a time.

Two kinds, because Slack fails in two ways:

- `SlackError`: Slack answers, and says no (`ratelimited` with a 429 and Retry-After, `not_in_channel`, ...).
- `Fault`: the transport or a proxy in front of Slack misbehaves: the answer is slow or never comes, the
  connection drops after Slack has already acted on the call, a load balancer answers 502 with an HTML page or
  nothing at all, or a 200 carries something that is not JSON.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class FaultKind(StrEnum):
    DELAY = "delay"  # answer normally, `delay_s` late
    HANG = "hang"  # never answer (until the stand-in closes)
    DROP_AFTER_ACCEPT = "drop_after_accept"  # do the call, then close the connection without an answer
    HTTP = "http"  # answer `status` with `body` as `content_type`, without doing the call


@dataclass(frozen=True, slots=True)
class SlackError:
    error: str
    status: int = 200
    retry_after: str | None = None  # sent verbatim: "1", "1.5" or an HTTP-date are all seen in the wild


@dataclass(frozen=True, slots=True)
class Fault:
    kind: FaultKind
    delay_s: float = 0.0
    status: int = 200
    body: str = ""
    content_type: str = "text/html"
    retry_after: str | None = None

    @classmethod
    def delay(cls, seconds: float) -> Fault:
        return cls(kind=FaultKind.DELAY, delay_s=seconds)

    @classmethod
    def hang(cls) -> Fault:
        return cls(kind=FaultKind.HANG)

    @classmethod
    def drop_after_accept(cls) -> Fault:
        return cls(kind=FaultKind.DROP_AFTER_ACCEPT)

    @classmethod
    def http(
        cls, status: int, *, body: str = "", content_type: str = "text/html", retry_after: str | None = None
    ) -> Fault:
        return cls(kind=FaultKind.HTTP, status=status, body=body, content_type=content_type,
                   retry_after=retry_after)


# What a load balancer in front of Slack answers when Slack is down: an HTML page, not Slack's JSON.
GATEWAY_PAGE = "<html><head><title>503 Service Temporarily Unavailable</title></head><body>upstream</body></html>"
