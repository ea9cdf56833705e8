"""Writer statistics persisted in the state dir (``regauto stats``).

Updated only under the registry lock, so a read-modify-write of the JSON file is safe.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path
from typing import Any

from regauto import jsonload

STATS_NAME = "writer-stats.json"
COUNTERS = ("writes", "noops", "conflicts", "rollbacks", "recoveries", "bytes_written")


def load(state_dir: Path) -> dict[str, Any]:
    data: dict[str, Any] = {k: 0 for k in COUNTERS}
    data["last_write"] = None
    data["python"] = None  # the minor version that computed the last write's descriptors
    try:
        stored = jsonload.loads((state_dir / STATS_NAME).read_text())
        if isinstance(stored, dict):
            data.update({k: v for k, v in stored.items() if k in data})
    except (OSError, ValueError):
        pass
    return data


def now_iso() -> str:
    """The current UTC time, as ``last_write`` records it (ISO 8601, seconds)."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def bump(state_dir: Path, **changes: Any) -> None:
    """Add to counters (ints) or set fields (``last_write``)."""
    data = load(state_dir)
    if "writes" in changes or "noops" in changes:
        data["python"] = f"{sys.version_info[0]}.{sys.version_info[1]}"
    for k, v in changes.items():
        if k in COUNTERS:
            data[k] = int(data.get(k, 0)) + int(v)
        else:
            data[k] = v
    state_dir.mkdir(parents=True, exist_ok=True)
    tmp = state_dir / f"{STATS_NAME}.{os.getpid()}.tmp"
    tmp.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")
    os.replace(tmp, state_dir / STATS_NAME)
