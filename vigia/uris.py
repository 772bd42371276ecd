"""Which bundle URIs are trusted how (no heavy imports: the operator reads this too).

The loader (``vigia.bundle``) fetches only ``LOADER_SCHEMES``; for ``REMOTE_SCHEMES``
the digest must come from the caller (the resource), not from a sidecar beside the
archive, unless the caller explicitly allows sidecars. docs/model-bundle.md explains.
"""

from __future__ import annotations

from typing import Final
from urllib.parse import urlsplit

# Schemes the loader fetches; a plain path is a local file. Anything else (http, ftp,
# memory, ...) is refused before it is opened.
LOADER_SCHEMES: Final = ("file", "s3")
# Whoever can write there is not whoever wrote the ModelDeployment: a sidecar beside the
# archive proves nothing, so these need the caller's digest (or an explicit opt-in).
REMOTE_SCHEMES: Final = ("s3",)
# fsspec reads ``a::b`` as a over b: "s3://x::http://10.0.0.1/" would open http underneath.
CHAIN_SEPARATOR: Final = "::"


def uri_scheme(uri: str) -> str:
    """The URI's scheme, lower case; "file" for a plain path."""
    return urlsplit(uri).scheme.lower() if "://" in uri else "file"


def scheme_refusal(uri: str, allowed: tuple[str, ...] = LOADER_SCHEMES) -> str | None:
    """Why ``uri`` may not be opened (its scheme is not in ``allowed``), or None.

    One policy for every URI a ModelDeployment names (the bundle, the dataset): the
    operator checks it with pvc:// added (it mounts claims), and the processes that open a
    URI check it again with ``LOADER_SCHEMES`` before anything is fetched.
    """
    if CHAIN_SEPARATOR in uri:
        return f"chained URIs ({CHAIN_SEPARATOR}) are not allowed"
    scheme = uri_scheme(uri)
    if scheme in allowed:
        return None
    names = ", ".join(f"{s}://" for s in allowed)
    return f"scheme {scheme!r} is not allowed; use one of {names}"
