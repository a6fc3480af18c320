"""Make `tests.media_utils` importable however pytest is launched (plain `pytest` puts only this
folder on sys.path; `python -m pytest` also adds the current directory)."""

import sys
from pathlib import Path

_ROOT = str(Path(__file__).resolve().parents[2])
if _ROOT not in sys.path:
    sys.path.insert(0, _ROOT)
