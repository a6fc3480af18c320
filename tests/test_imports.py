"""Server start stays light: importing the server never imports torch or other heavy SDKs."""

from __future__ import annotations

import subprocess
import sys

HEAVY = ("torch", "diffusers", "transformers", "av", "numpy", "opentimelineio", "replicate", "psycopg", "dbos",
         "sqlalchemy")


def test_server_import_is_light() -> None:
    code = (
        "import sys, reelforge.server, reelforge.cli; "
        f"print(','.join(m for m in {HEAVY!r} if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "", f"heavy modules imported at server start: {out.stdout}"
