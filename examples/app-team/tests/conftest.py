"""The example runs with its own folder as the import root (``sealing``) and uses the platform repository's
modules (``components``, ``tools``): both folders on the import path for every test here."""

from __future__ import annotations

import sys
from pathlib import Path

EXAMPLE = Path(__file__).resolve().parent.parent
for folder in (str(EXAMPLE.parent.parent), str(EXAMPLE)):
    if folder not in sys.path:
        sys.path.insert(0, folder)
