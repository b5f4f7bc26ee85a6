"""Binance HMAC signing against the official test vectors, and secrets kept out of sight."""
from __future__ import annotations

import pytest

from adapters.binance.signing import (
    Credentials,
    sign,
    signature_matches,
    signature_payload,
    split_signature,
)

# venues.md §1.3 and Binance's REST docs, "SIGNED endpoint examples for POST /api/v3/order".
SECRET = "NhqPtmdSJYdKjVHjA7PZj4Mge3R5YNiP1e3UZjInClVN65XAbvqqM6A7H5fATj0j"
QUERY = "symbol=LTCBTC&side=BUY&type=LIMIT&timeInForce=GTC"
BODY = "quantity=1&price=0.1&recvWindow=5000&timestamp=1499827319559"


def test_official_vector_all_parameters_in_one_string() -> None:
    payload = signature_payload(f"{QUERY}&{BODY}", "")
    assert sign(SECRET, payload) == "c8db56825ae71d6d79447849e617115f4a920fa2acdcab2b053c4b2838bd6b71"


def test_official_vector_query_string_and_body_are_joined_without_a_separator() -> None:
    payload = signature_payload(QUERY, BODY)
    assert payload == QUERY + BODY  # "...timeInForce=GTCquantity=1..."
    assert sign(SECRET, payload) == "0fd168b8ddb4876a0358a8d14d0c9f3da0e9b20c5d52b2a00fcf7d1c602f9a77"


def test_signature_check_is_case_insensitive_and_refuses_any_change() -> None:
    payload = f"{QUERY}&{BODY}"
    signature = sign(SECRET, payload)
    assert signature_matches(SECRET, payload, signature)
    assert signature_matches(SECRET, payload, signature.upper())
    assert not signature_matches(SECRET, payload.replace("price=0.1", "price=0.2"), signature)
    assert not signature_matches(SECRET[:-1] + "k", payload, signature)
    assert not signature_matches(SECRET, payload, "")


@pytest.mark.parametrize(("params", "expected"), [
    ("a=1&signature=abc&b=%20x", ("a=1&b=%20x", "abc")),
    ("a=1&b=2&signature=ABC", ("a=1&b=2", "ABC")),
    ("a=1", ("a=1", None)),
    ("", ("", None)),
])
def test_split_signature_keeps_the_other_parameters_byte_for_byte(params: str, expected) -> None:
    assert split_signature(params) == expected


def test_credentials_never_show_the_secret() -> None:
    credentials = Credentials("my-key", SECRET)
    assert SECRET not in repr(credentials) and SECRET not in str(credentials)
    assert "my-key" in repr(credentials)


def test_credentials_from_the_environment_name_what_is_missing_but_never_a_value() -> None:
    credentials = Credentials.from_env({"BINANCE_API_KEY": "k", "BINANCE_API_SECRET": SECRET})
    assert (credentials.api_key, credentials.secret) == ("k", SECRET)
    with pytest.raises(KeyError) as missing:
        Credentials.from_env({"BINANCE_API_KEY": "k"})
    assert "BINANCE_API_SECRET" in str(missing.value)
    custom = Credentials.from_env({"K": "k2", "S": "s2"}, key_var="K", secret_var="S")
    assert custom == Credentials("k2", "s2")
