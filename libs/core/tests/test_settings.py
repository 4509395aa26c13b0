"""FLEETJOBS_* settings are validated at start-up, with a message naming the variable."""

from __future__ import annotations

import dataclasses

import pytest

from fleetjobs.core.config import CommonSettings, SettingsError


def test_slot_ttl_defaults_to_30_s() -> None:
    assert CommonSettings.from_env({}).slot_ttl == 30.0
    assert CommonSettings.from_env({"FLEETJOBS_SLOT_TTL": " 4.5 "}).slot_ttl == 4.5


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("thirty", "FLEETJOBS_SLOT_TTL='thirty' is not a number of seconds"),
        ("0", "FLEETJOBS_SLOT_TTL=0.0 must be more than 0 seconds"),
        ("-5", "FLEETJOBS_SLOT_TTL=-5.0 must be more than 0 seconds"),
        ("nan", "FLEETJOBS_SLOT_TTL='nan' is not a finite number of seconds"),
        ("inf", "FLEETJOBS_SLOT_TTL='inf' is not a finite number of seconds"),
        # Under NATS' smallest bucket TTL the executor could not even set its bucket up.
        ("0.05", "FLEETJOBS_SLOT_TTL=0.05 must be at least 1 s"),
    ],
)
def test_a_bad_slot_ttl_is_refused_with_a_clear_message(value: str, message: str) -> None:
    with pytest.raises(SettingsError) as refused:
        CommonSettings.from_env({"FLEETJOBS_SLOT_TTL": value})
    assert str(refused.value).startswith(message)


def test_a_slot_ttl_given_in_code_is_checked_too() -> None:
    with pytest.raises(SettingsError, match=r"FLEETJOBS_SLOT_TTL=0\.5 must be at least 1 s"):
        dataclasses.replace(CommonSettings.from_env({}), slot_ttl=0.5)
