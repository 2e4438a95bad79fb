"""Media types of GraphQL over HTTP: which one a client accepts, matched case-insensitively.

`application/graphql-response+json` is the spec's type; `application/json` is kept for the
clients that predate it (and for requests with no Accept header, or `*/*`).
"""

from __future__ import annotations

GRAPHQL_RESPONSE_JSON = "application/graphql-response+json"
APPLICATION_JSON = "application/json"

# What each supported answer is matched by in an Accept header, most specific first.
_MATCHES = {
    GRAPHQL_RESPONSE_JSON: (GRAPHQL_RESPONSE_JSON,),
    APPLICATION_JSON: (APPLICATION_JSON, "application/*", "*/*"),
}


def media_type(header: str) -> str:
    """The bare, lower-cased media type of a Content-Type or Accept entry."""
    return header.split(";", 1)[0].strip().lower()


def _quality(entry: str) -> float:
    for parameter in entry.split(";")[1:]:
        name, _, value = parameter.partition("=")
        if name.strip().lower() == "q":
            try:
                return float(value.strip())
            except ValueError:
                return 0.0
    return 1.0


def negotiate(accept: str | None) -> str | None:
    """The response media type for an Accept header; None when it names none of ours.

    The highest quality wins; on a tie the spec's own type. A missing or empty header means
    application/json (legacy clients)."""
    if accept is None or not accept.strip():
        return APPLICATION_JSON
    best: tuple[float, int, str] | None = None
    for entry in accept.split(","):
        accepted = media_type(entry)
        quality = _quality(entry)
        if quality <= 0:
            continue
        for rank, (answer, patterns) in enumerate(_MATCHES.items()):
            if accepted in patterns:
                # Prefer the quality, then the spec's own type (rank 0); a wildcard never
                # selects graphql-response+json, so legacy clients keep application/json.
                candidate = (quality, -rank, answer)
                if best is None or candidate > best:
                    best = candidate
    return None if best is None else best[2]
