"""Persisted queries: Apollo's automatic persisted queries (APQ) and an allow-list.

APQ: a client sends only ``extensions.persistedQuery.sha256Hash``. A known hash runs the
registered text; an unknown one answers ``PersistedQueryNotFound`` and the client resends
the hash with the full text, which is verified (sha256 of the text must equal the hash)
and registered once it has passed validation.

Where the registry lives: in the store (app/store/persisted_queries.py), so a query
registered through one replica runs by hash on every other, with a bounded LRU in each
process in front of it. A hash always names the same text, so the LRU never goes stale:
a hash seen before costs no round trip, one seen first costs one look-up by ``_id``.
Stored texts are bounded in length, registered only once they validate, and expire
(``PROFILE_GATEWAY_PERSISTED_QUERIES_TTL_HOURS`` after their last look-up).

Allow-list (``PROFILE_GATEWAY_PERSISTED_QUERIES_ONLY``, for production): only the
operations of a manifest shipped with the deployment run, by hash or by identical text;
nothing is registered at run time. The manifest is Apollo's persisted query manifest
(``{"format": "apollo-persisted-query-manifest", "version": 1, "operations": [{"id",
"body", ...}]}``) or a plain ``{"<sha256>": "<text>"}`` object.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections import OrderedDict
from collections.abc import Mapping
from datetime import timedelta
from pathlib import Path
from typing import Any

from app.store import persisted_queries
from app.store.client import Store

HASH = re.compile(r"^[0-9a-f]{64}$")
MAX_REGISTERED_LENGTH = 20_000  # characters; longer texts run but are not kept


class PersistedQueryError(Exception):
    """A refusal the client must see, with the Apollo error code and the HTTP status."""

    def __init__(self, message: str, code: str, status: int = 200) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.status = status


def sha256_hex(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


class PersistedQueries:
    def __init__(
        self,
        *,
        enabled: bool,
        cache_size: int,
        allow_list: Mapping[str, str] | None = None,
        store: Store | None = None,
        ttl: timedelta = timedelta(days=7),
    ) -> None:
        """Without a ``store`` the registry is this process's LRU alone."""
        self.enabled = enabled
        self.cache_size = cache_size
        self.allow_list = dict(allow_list) if allow_list is not None else None
        self.store = store
        self.ttl = ttl
        self._registered: OrderedDict[str, str] = OrderedDict()

    async def resolve(self, query: str | None, extensions: Mapping[str, Any] | None) -> tuple[str | None, str | None]:
        """The text to run and the hash to register it under once it validates (or None)."""
        persisted = (extensions or {}).get("persistedQuery")
        if persisted is None:
            if self.allow_list is not None and query is not None and sha256_hex(query) not in self.allow_list:
                raise _not_in_list()
            return query, None
        digest = _hash_of(persisted)
        if self.allow_list is not None:
            return self._allowed(query, digest), None
        if not self.enabled:
            raise PersistedQueryError("PersistedQueryNotSupported", "PERSISTED_QUERY_NOT_SUPPORTED")
        if query is None:
            text = await self._lookup(digest)
            if text is None:
                raise PersistedQueryError("PersistedQueryNotFound", "PERSISTED_QUERY_NOT_FOUND")
            return text, None
        _verify(query, digest)
        return query, digest

    def knows(self, digest: str) -> bool:
        """Whether this process holds ``digest``'s text already (so registering it again would
        only repeat a store write)."""
        return digest in self._registered

    async def register(self, digest: str, query: str) -> None:
        if len(query) > MAX_REGISTERED_LENGTH:
            return
        self._remember(digest, query)
        if self.store is not None:
            await persisted_queries.save(self.store, digest, query, self.ttl)

    async def _lookup(self, digest: str) -> str | None:
        text = self._registered.get(digest)
        if text is not None:
            self._registered.move_to_end(digest)
            return text
        if self.store is None:
            return None
        text = await persisted_queries.find(self.store, digest, self.ttl)
        # Checked again: a stored text is only trusted when it still hashes to its key.
        if text is None or sha256_hex(text) != digest:
            return None
        self._remember(digest, text)
        return text

    def _remember(self, digest: str, query: str) -> None:
        self._registered[digest] = query
        self._registered.move_to_end(digest)
        while len(self._registered) > self.cache_size:
            self._registered.popitem(last=False)

    def _allowed(self, query: str | None, digest: str) -> str:
        assert self.allow_list is not None
        text = self.allow_list.get(digest)
        if query is not None:
            _verify(query, digest)
            if text is None:
                raise _not_in_list()
            return query
        if text is None:
            raise PersistedQueryError("PersistedQueryNotFound", "PERSISTED_QUERY_NOT_FOUND")
        return text


def _hash_of(persisted: Any) -> str:
    if not isinstance(persisted, Mapping) or persisted.get("version") != 1:
        raise PersistedQueryError("Unsupported persisted query version: expected 1", "PERSISTED_QUERY_INVALID", 400)
    digest = persisted.get("sha256Hash")
    if not isinstance(digest, str) or not HASH.match(digest.lower()):
        raise PersistedQueryError("sha256Hash must be 64 hexadecimal digits", "PERSISTED_QUERY_INVALID", 400)
    return digest.lower()


def _verify(query: str, digest: str) -> None:
    if sha256_hex(query) != digest:
        raise PersistedQueryError("provided sha does not match query", "PERSISTED_QUERY_HASH_MISMATCH", 400)


def _not_in_list() -> PersistedQueryError:
    return PersistedQueryError(
        "this operation is not on the gateway's allow-list of persisted queries",
        "PERSISTED_QUERY_NOT_IN_LIST",
        400,
    )


def load_manifest(path: Path) -> dict[str, str]:
    """hash → text of an operation manifest; every hash is checked against its text."""
    data = json.loads(path.read_text())
    if isinstance(data, dict) and data.get("format") == "apollo-persisted-query-manifest":
        pairs = [(operation["id"], operation["body"]) for operation in data.get("operations", [])]
    elif isinstance(data, dict):
        pairs = list(data.items())
    else:
        raise ValueError(f"{path}: expected a persisted query manifest object")
    operations: dict[str, str] = {}
    for digest, body in pairs:
        if not isinstance(digest, str) or not isinstance(body, str) or sha256_hex(body) != digest.lower():
            raise ValueError(f"{path}: the id {str(digest)[:16]}… is not the sha256 of its body")
        operations[digest.lower()] = body
    return operations
