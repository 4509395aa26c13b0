"""A secret holding a lone surrogate (a password no driver can send, which a credential may
still hold) is scrubbed like any other, instead of making every scrub with it raise."""

from __future__ import annotations

from fleetjobs.core.crypto import scrub
from fleetjobs.core.crypto._forms import secret_forms

SECRET = "pa\ud800€s\\w'\"d"


def test_a_secret_with_a_lone_surrogate_is_scrubbed_in_every_spelling() -> None:
    assert scrub(f"login failed for {SECRET} and {SECRET!r}", [SECRET]) == (
        "login failed for *** and '***'"
    )
    # Its percent-encoded spelling, with the surrogate's own bytes, is one of its forms.
    assert "pa%ED%A0%80%E2%82%ACs%5Cw%27%22d" in secret_forms(SECRET)
