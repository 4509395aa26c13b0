"""A task's messages are bounded while they arrive (count and bytes), its error text too."""

from __future__ import annotations

from fleetjobs.executor.connectors import (
    MAX_MESSAGE_BYTES,
    MAX_MESSAGES,
    DatabaseAddress,
    Login,
    MessageCollector,
    PostgresqlConnector,
    bounded_text,
)
from fleetjobs.executor.events.outcomes import _bounded


def _size(messages: list[str]) -> int:
    return sum(len(message.encode()) for message in messages)


def test_the_count_is_capped_and_the_rest_counted() -> None:
    collector = MessageCollector()
    collector.extend(f"n {i}" for i in range(1, 120_001))
    messages = collector.messages()
    assert len(messages) == MAX_MESSAGES + 1
    assert messages[0] == "n 1"
    assert messages[MAX_MESSAGES - 1] == f"n {MAX_MESSAGES}"
    assert messages[-1] == "119000 more messages dropped"


def test_the_bytes_are_capped_and_order_is_kept() -> None:
    collector = MessageCollector()
    # 10 KiB each: 25 fit in 256 KiB, then a small one must not slip in after a drop.
    collector.extend(["x" * 10 * 1024] * 30 + ["small"])
    messages = collector.messages()
    assert messages[-1] == "6 more messages dropped"
    assert _size(messages[:-1]) <= MAX_MESSAGE_BYTES
    assert "small" not in messages


def test_one_huge_message_is_cut_not_kept_whole() -> None:
    collector = MessageCollector()
    collector.add("é" * 1_000_000)
    (message,) = collector.messages()
    assert len(message.encode()) < 17 * 1024
    assert message.endswith("more bytes cut)")


def test_a_secret_straddling_the_cut_is_scrubbed_before_it() -> None:
    secret = "straddling-secret-0123456789"
    # The cut falls inside the secret: cut first, its start would survive any later scrub.
    message = "x" * (16 * 1024 - 10) + secret + " and more"
    collector = MessageCollector(secrets=[secret])
    collector.add(message)
    (kept,) = collector.messages()
    assert secret[:10] not in kept
    assert "***" in kept


def test_a_single_dropped_message_is_said_so() -> None:
    collector = MessageCollector(max_messages=1)
    collector.extend(["a", "b"])
    assert collector.messages() == ["a", "1 more message dropped"]


def test_bounded_text_cuts_on_a_character_boundary() -> None:
    assert bounded_text("short", 100) == "short"
    cut = bounded_text("€" * 100, 10)  # 3 bytes each: 3 whole characters fit
    assert cut.startswith("€€€…")
    assert "291 more bytes cut" in cut


def test_120000_postgresql_notices_are_capped_while_collected(
    pg_address: DatabaseAddress, pg_login: Login
) -> None:
    script = "DO $$ BEGIN FOR i IN 1..120000 LOOP RAISE NOTICE 'n %', i; END LOOP; END $$;"
    outcome = PostgresqlConnector().run_script(pg_address, pg_login, script, timeout_seconds=60)
    messages = outcome.messages
    assert len(messages) == MAX_MESSAGES + 1
    assert messages[0] == "NOTICE: n 1"
    assert messages[-1] == "119000 more messages dropped"
    assert _size(messages) <= MAX_MESSAGE_BYTES + 100


def test_an_outcome_keeps_a_capped_attempts_messages_as_they_are_and_caps_any_other() -> None:
    collector = MessageCollector()
    collector.extend(f"n {i}" for i in range(5_000))
    capped = collector.messages()
    assert _bounded(capped) == capped  # the "4000 more messages dropped" line survives
    flood = [f"m {i}" for i in range(50_000)]
    bounded = _bounded(flood)
    assert len(bounded) == MAX_MESSAGES + 2
    assert bounded[-1] == f"{50_000 - MAX_MESSAGES - 1} more messages dropped"
