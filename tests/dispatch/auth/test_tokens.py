"""Access tokens: a verified token is remembered, but never past its expiry."""

from __future__ import annotations

import time

import pytest

from dispatch.auth import tokens
from dispatch.auth.tokens import TokenSigner
from dispatch.errors import NotAuthenticated

SECRET = "a-test-secret-that-is-long-enough-to-sign"


def test_a_remembered_token_is_refused_once_it_expires() -> None:
    signer = TokenSigner(SECRET)
    token = signer.mint("usr_1", "customer", ttl_s=1)
    assert signer.verify(token).subject == "usr_1"
    assert signer.verify(token).subject == "usr_1"  # from memory
    time.sleep(max(0.0, int(time.time()) + 1.05 - time.time()))  # past exp, to the second
    with pytest.raises(NotAuthenticated, match="expired"):
        signer.verify(token)


def test_a_token_of_another_secret_is_refused_after_ours_was_verified() -> None:
    ours, theirs = TokenSigner(SECRET), TokenSigner(SECRET[::-1])
    token = theirs.mint("usr_1", "customer")
    with pytest.raises(NotAuthenticated):
        ours.verify(token)
    assert theirs.verify(token).role == "customer"
    with pytest.raises(NotAuthenticated):  # still refused: only successes are remembered
        ours.verify(token)


def test_the_memory_keeps_only_the_newest_tokens(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tokens, "VERIFIED_CACHE_SIZE", 3)
    signer = TokenSigner(SECRET)
    minted = [signer.mint(f"usr_{i}", "customer") for i in range(5)]
    for token in minted:
        signer.verify(token)
    assert list(signer._verified) == minted[2:]
    assert [signer.verify(token).subject for token in minted] == [f"usr_{i}" for i in range(5)]
