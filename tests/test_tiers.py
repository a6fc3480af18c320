"""Tiers, quotas and per-user keys on a shared service: the tiers file, limits checked before the
ledger row with a message that names the limit and its reset, jobs visible only to their user, and
a user's own provider key used (and never logged) for their jobs."""

from __future__ import annotations

import hashlib
from pathlib import Path

import anyio
import pytest

from reelforge.errors import InvalidRequest, JobNotFound, QuotaExceeded
from reelforge.settings import Settings
from reelforge.studio.caller import acting_as
from reelforge.studio.operations import OPERATIONS, open_studio
from reelforge.studio.ownership import visible_job, visible_jobs
from reelforge.studio.tool_schemas import GenerateRequest
from reelforge.studio.usage import usage_report
from reelforge.tiers import decrypt_keys, encrypt_key, load_tiers

ALICE_TOKEN, BOB_TOKEN = "a" * 8 + "0123456789abcdef" * 3, "b" * 8 + "fedcba9876543210" * 3


def digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def write_tiers(folder: Path, *, bob_keys: dict[str, str] | None = None) -> Path:
    keys = "".join(f'{k} = "{v}"\n' for k, v in (bob_keys or {}).items())
    path = folder / "tiers.toml"
    path.write_text(f"""
[tiers.free]
providers = ["preview"]
max_duration_s = 2
generations_per_day = 2
video_seconds_per_day = 3

[tiers.premium]
spend_per_day_usd = 5

[users.alice]
tier = "free"
token_sha256 = "{digest(ALICE_TOKEN)}"

[users.bob]
tier = "premium"
token_sha256 = "{digest(BOB_TOKEN)}"
{"[users.bob.keys]" if keys else ""}
{keys}
""", encoding="utf-8")
    return path


def test_tokens_map_to_users_and_bad_files_are_refused_with_the_reason(tmp_path: Path) -> None:
    tiers = load_tiers(write_tiers(tmp_path))
    assert tiers.user_for_token(ALICE_TOKEN) == "alice" and tiers.user_for_token(BOB_TOKEN) == "bob"
    assert tiers.user_for_token("not-a-token") is None
    bad = tmp_path / "bad.toml"
    bad.write_text('[tiers.free]\n[users.x]\ntier = "gold"\ntoken_sha256 = "' + "0" * 64 + '"\n')
    with pytest.raises(InvalidRequest, match="gold"):
        load_tiers(bad)
    clear = tmp_path / "clear.toml"
    clear.write_text('[tiers.free]\n[users.x]\ntier = "free"\ntoken_sha256 = "' + "0" * 64 + '"\n'
                     '[users.x.keys]\nRUNWAYML_API_SECRET = "key_in_clear"\n')
    with pytest.raises(InvalidRequest, match="not encrypted") as refused:
        load_tiers(clear)
    assert "key_in_clear" not in str(refused.value)


def test_keys_are_encrypted_at_rest_and_need_the_server_passphrase(tmp_path: Path) -> None:
    stored = encrypt_key("key_bob_own", "server passphrase")
    assert "key_bob_own" not in stored and stored.startswith("fernet:")
    user = load_tiers(write_tiers(tmp_path, bob_keys={"RUNWAYML_API_SECRET": stored})).users["bob"]
    assert decrypt_keys(user, "server passphrase") == {"RUNWAYML_API_SECRET": "key_bob_own"}
    with pytest.raises(InvalidRequest, match="REELFORGE_SECRET_KEY"):
        decrypt_keys(user, None)
    with pytest.raises(InvalidRequest, match="cannot be decrypted"):
        decrypt_keys(user, "another passphrase")


async def _generate(studio, user: str | None, **fields) -> object:
    request = GenerateRequest(**{"prompt": "a paper boat", "provider": "preview", "duration_s": 1, **fields})
    with acting_as(user):
        return await OPERATIONS["generate"].start(studio, request)


async def test_quotas_are_checked_before_the_ledger_row_and_name_the_limit(settings: Settings, tmp_path: Path) -> None:
    studio = open_studio(settings.model_copy(update={"tiers_file": write_tiers(tmp_path)}), resume=False)
    try:
        async with anyio.create_task_group() as tg:
            await tg.start(studio.runner.serve)
            first = await _generate(studio, "alice")
            second = await _generate(studio, "alice", seed=2)
            for job in (first, second):
                assert (await studio.wait(job.id, 60)).status.value == "succeeded"
            rows = len(studio.store.list(limit=100))
            with pytest.raises(QuotaExceeded) as refused:
                await _generate(studio, "alice", seed=3)
            message = refused.value.message
            assert "free" in message and "2 generations" in message and "resets at 00:00 UTC" in message, message
            with pytest.raises(QuotaExceeded, match="up to 2 s"):
                await _generate(studio, "alice", duration_s=3)
            with pytest.raises(QuotaExceeded, match="does not include the runway provider"):
                with acting_as("alice"):
                    await OPERATIONS["generate"].start(studio, GenerateRequest(prompt="x", provider="runway"))
            assert len(studio.store.list(limit=100)) == rows, "a refused call left a ledger row"
            # Another user's allowance is their own, and each sees only their own jobs.
            bob = await _generate(studio, "bob")
            assert (await studio.wait(bob.id, 60)).user_id == "bob"
            assert {j.id for j in visible_jobs(studio, "alice")} == {first.id, second.id}
            with pytest.raises(JobNotFound):
                visible_job(studio, first.id, "bob")
            assert visible_job(studio, first.id, None).id == first.id  # the operator sees every job
            usage = usage_report(studio, "alice")
            assert usage["generations"] == 2 and usage["video_seconds"] == 2 and usage["tier"] == "free"
            tg.cancel_scope.cancel()
    finally:
        await studio.aclose()


async def test_the_same_idempotency_key_of_two_users_makes_two_jobs(settings: Settings, tmp_path: Path) -> None:
    studio = open_studio(settings.model_copy(update={"tiers_file": write_tiers(tmp_path)}), resume=False)
    try:
        async with anyio.create_task_group() as tg:
            await tg.start(studio.runner.serve)
            mine = await _generate(studio, "alice", idempotency_key="shot-1")
            theirs = await _generate(studio, "bob", idempotency_key="shot-1")
            again = await _generate(studio, "alice", idempotency_key="shot-1")
            assert theirs.id != mine.id and again.id == mine.id
            tg.cancel_scope.cancel()
    finally:
        await studio.aclose()
