"""A home the OS will not let us write (here under /sys, refused by the kernel for every user): the
catalog still answers (it needs no ledger), work tools say why they cannot start, and `doctor`
prints the reason and the fix (issue 8, item 11).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from client_utils import make_client

from reelforge.providers.registry import provider_names

UNWRITABLE = Path("/sys/reelforge-test-home")  # sysfs refuses mkdir: EPERM for root, EACCES otherwise


@pytest.fixture
def bad_home(settings):
    assert not UNWRITABLE.exists()
    return settings.model_copy(update={"home": UNWRITABLE})


async def test_list_models_works_without_a_ledger(bad_home) -> None:
    async with make_client(bad_home) as client:
        result = await client.call_tool("list_models", {"provider": "preview"})
        assert not result.is_error, result.content[0].text
        assert [m["model"] for m in result.structured_content["models"]]
        catalog = json.loads((await client.read_resource("reelforge://models")).contents[0].text)
        assert {m["provider"] for m in catalog["models"]} == set(provider_names())
        failed = await client.call_tool("generate_video", {"request": {"prompt": "x", "provider": "preview"}})
    text = failed.content[0].text
    assert failed.is_error and "[startup_failed]" in text and str(UNWRITABLE) in text, text
    assert "REELFORGE_HOME" in text, text


def test_doctor_text_says_why_the_home_is_unusable(monkeypatch: pytest.MonkeyPatch, capsys, settings) -> None:
    from reelforge.cli import main

    monkeypatch.setenv("REELFORGE_HOME", str(UNWRITABLE))
    with pytest.raises(SystemExit) as done:
        main(["doctor"])
    out = capsys.readouterr().out
    assert done.value.code == 1
    ledger = next(line for line in out.splitlines() if line.startswith("ledger"))
    assert "missing" in ledger or "unusable" in ledger, out
    assert str(UNWRITABLE) in out and ("not permitted" in out or "denied" in out), out
    assert "REELFORGE_HOME" in out, out
