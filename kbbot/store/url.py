"""What a store URL names, read once for the thread store and the outcome store that share it.

    memory://                      Backend.MEMORY
    sqlite:///path/state.db        Backend.SQLITE   (`sqlite:///:memory:` for a private in-memory database)
    redis://host:6379/0            Backend.REDIS    (also rediss:// and unix://)
"""

from __future__ import annotations

import functools
import importlib
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from enum import StrEnum
from typing import Any
from urllib.parse import urlsplit

from kbbot.errors import ConfigError, StoreError


class Backend(StrEnum):
    MEMORY = "memory"
    SQLITE = "sqlite"
    REDIS = "redis"


_BACKENDS = {
    "memory": Backend.MEMORY,
    "sqlite": Backend.SQLITE,
    "redis": Backend.REDIS,
    "rediss": Backend.REDIS,
    "unix": Backend.REDIS,
}


def store_backend(url: str) -> Backend:
    """The backend `url` names; StoreError (listing the forms it takes) for any other URL."""
    backend = _BACKENDS.get(urlsplit(url).scheme.lower())
    if backend is None:
        raise StoreError(
            f"unknown store URL {url!r}; use memory://, sqlite:///path/state.db or redis://host:6379/0"
        )
    return backend


def sqlite_path(url: str) -> str:
    """The database path of a `sqlite://` URL: `sqlite:///abs/path` -> `/abs/path`.

    `sqlite:///rel.db` gives `/rel.db`, which is what the URL says, so it is kept."""
    path = url[len("sqlite://") :]
    if path == "/:memory:":
        path = ":memory:"
    if not path or path == "/":
        raise StoreError(f"no database path in {url!r}; use sqlite:///path/state.db")
    return path


def redact_url(url: str) -> str:
    """The URL without a password, for messages and logs."""
    if "@" not in url:
        return url
    scheme, _, rest = url.partition("://")
    return f"{scheme}://***@{rest.rsplit('@', 1)[1]}"


@contextmanager
def redis_extra(*, what: str, url: str) -> Iterator[None]:
    """Around importing a Redis backend: without the optional redis package, one line that says how to get it
    (ConfigError) instead of a traceback. `what` names the store ("thread store", "outcome store")."""
    try:
        yield
    except ModuleNotFoundError as exc:
        if exc.name != "redis" and not (exc.name or "").startswith("redis."):
            raise
        raise ConfigError(
            f"the Redis {what} ({redact_url(url)}) needs the redis package: pip install 'kbbot[redis]'"
        ) from None


def backend_opener(url: str, *, classes: Mapping[Backend, str], what: str) -> Callable[..., Any]:
    """The constructor of the backend `url` names, given where each lives (`classes`: backend ->
    "module:Class"), with the URL's own part already passed: `path=` for SQLite, `url=` for Redis.

    Only that backend's module is imported, so an optional client library is loaded only when it is used; a
    missing redis package is the ConfigError from `redis_extra`. `what` names the store ("thread store")."""
    backend = store_backend(url)
    module_name, _, class_name = classes[backend].partition(":")
    if backend is Backend.REDIS:
        with redis_extra(what=what, url=url):
            module = importlib.import_module(module_name)
        return functools.partial(getattr(module, class_name), url=url)
    module = importlib.import_module(module_name)
    if backend is Backend.SQLITE:
        return functools.partial(getattr(module, class_name), path=sqlite_path(url))
    return getattr(module, class_name)
