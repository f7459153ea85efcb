"""Signatures name their key: a replica accepts records of every key it lists, signs with the
first, and still reads records written before key ids (`mlapi1`) by an accepted key."""

from __future__ import annotations

import hashlib
import hmac

import pytest
from pydantic import SecretStr, ValidationError

from mlapi.settings import Settings
from mlapi.shared.signing import Signer, key_id

A = "signing-key-A-0123456789"
B = "signing-key-B-9876543210"
WHERE = "mlapi:job:j1"


def legacy(secret: str, key: str, payload: bytes) -> bytes:
    """A record as the first format wrote it: `mlapi1.<hex HMAC>.<payload>`."""
    mac = hmac.new(secret.encode(), key.encode() + b"\0" + payload, hashlib.sha256).hexdigest()
    return b"mlapi1." + mac.encode() + b"." + payload


def test_a_record_names_its_key_without_revealing_it() -> None:
    sealed = Signer([B, A]).seal(WHERE, b"{}")
    version, kid, _mac, payload = sealed.split(b".", 3)
    assert (version, kid.decode(), payload) == (b"mlapi2", key_id(B), b"{}")
    assert key_id(A) != key_id(B) and A.encode() not in sealed and B.encode() not in sealed


def test_each_accepted_key_opens_and_others_do_not() -> None:
    rotating = Signer([B, A])
    for made in (Signer(A).seal(WHERE, b"x"), Signer([B]).seal(WHERE, b"x")):
        assert rotating.open(WHERE, made, "test record") == b"x"
    assert Signer(A).open(WHERE, rotating.seal(WHERE, b"x"), "test record") is None
    assert rotating.open("mlapi:job:j2", rotating.seal(WHERE, b"x"), "test record") is None


def test_a_key_id_swapped_for_another_accepted_key_is_refused() -> None:
    sealed = Signer(A).seal(WHERE, b"x")
    relabelled = sealed.replace(key_id(A).encode(), key_id(B).encode(), 1)
    assert Signer([A, B]).open(WHERE, relabelled, "test record") is None


def test_records_of_the_first_format_stay_readable_with_an_accepted_key() -> None:
    old = legacy(A, WHERE, b'{"state":"done"}')
    assert Signer([B, A]).open(WHERE, old, "test record") == b'{"state":"done"}'
    assert Signer([B]).open(WHERE, old, "test record") is None
    assert Signer([B, A]).open("mlapi:job:j2", old, "test record") is None


def test_a_cached_value_is_bound_to_its_key_and_keys() -> None:
    tagged = Signer(A).tag_value(b"mlapi:fp:1", b"[0.5]")
    assert Signer([B, A]).open_value(b"mlapi:fp:1", tagged) == b"[0.5]"
    assert Signer([B, A]).open_value(b"mlapi:fp:2", tagged) is None
    assert Signer(B).open_value(b"mlapi:fp:1", tagged) is None
    assert Signer(A).open_value(b"mlapi:fp:1", tagged[:-1] + b"]]") is None


def test_the_key_list_signs_with_its_first_key() -> None:
    keys = Settings(redis_signing_keys=SecretStr(f"{B}, {A}\n")).signing_keys()
    assert keys == [B, A]
    assert Settings(redis_signing_key=SecretStr(A)).signing_keys() == [A]
    both = Settings(redis_signing_key=SecretStr(B), redis_signing_keys=SecretStr(f"{B},{A}"))
    assert both.signing_keys() == [B, A]


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"redis_signing_keys": f"{A},{A}"}, "holds a key twice"),
        ({"redis_signing_keys": f"{A},short"}, "at least 16 characters"),
        ({"redis_signing_keys": f"{A},,{B}"}, "at least 16 characters"),
        ({"redis_signing_key": A, "redis_signing_keys": f"{B},{A}"}, "not the first"),
        ({"require_signing_key": True, "redis_url": "redis://r:6379/0"}, "no signing key"),
    ],
)
def test_key_settings_that_make_no_sense_are_refused(
    changes: dict[str, object], message: str
) -> None:
    with pytest.raises(ValidationError, match=message):
        Settings(**changes)  # type: ignore[arg-type]


def test_prod_without_redis_needs_no_signing_key() -> None:
    assert Settings(require_signing_key=True).signing_keys() == []
