"""Binance request signing (HMAC-SHA256, venues.md §1.3), shared by our client and the simulated venue.

Binance signs the exact bytes it receives: the query string followed by the form body, with no separator
and without the `signature` parameter itself. Both sides of the wire use this one module, so the client
and the simulated venue cannot disagree about what is signed. The secret lives only in `Credentials`,
whose repr leaves it out, and is never logged.
"""
from __future__ import annotations

import hashlib
import hmac
import os
from collections.abc import Mapping
from dataclasses import dataclass, field

API_KEY_HEADER = "X-MBX-APIKEY"
SIGNATURE_PARAM = "signature"


@dataclass(frozen=True, slots=True)
class Credentials:
    """An API key and its secret; the secret never appears in a repr."""
    api_key: str
    secret: str = field(repr=False)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] = os.environ, *, key_var: str = "BINANCE_API_KEY",
                 secret_var: str = "BINANCE_API_SECRET") -> Credentials:
        """Read the key and secret from the environment; a missing variable is named, its value never."""
        missing = [name for name in (key_var, secret_var) if not environ.get(name)]
        if missing:
            raise KeyError(f"missing environment variable(s): {', '.join(missing)}")
        return cls(environ[key_var], environ[secret_var])


def signature_payload(query: str, body: str) -> str:
    """What Binance signs: the query string, then the request body, concatenated without a separator."""
    return query + body


def sign(secret: str, payload: str) -> str:
    """Lower-case hex HMAC-SHA256 of `payload` under `secret`."""
    return hmac.new(secret.encode(), payload.encode(), hashlib.sha256).hexdigest()


def signature_matches(secret: str, payload: str, signature: str) -> bool:
    """True if `signature` is the HMAC of `payload` (hex is case-insensitive), compared in constant time."""
    return hmac.compare_digest(sign(secret, payload), signature.lower())


def split_signature(params: str) -> tuple[str, str | None]:
    """An encoded parameter string without its `signature` parameter, and that signature (None if absent).

    The rest is kept byte for byte, since the signature covers the parameters exactly as they were sent.
    """
    kept, signature = [], None
    for part in params.split("&") if params else ():
        name, _, value = part.partition("=")
        if name == SIGNATURE_PARAM:
            signature = value
        else:
            kept.append(part)
    return "&".join(kept), signature
