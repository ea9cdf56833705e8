"""Run the benchmarks and print one table: ``python -m benchmarks [--quick] [NAME…]``."""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys
from pathlib import Path

from rich.console import Console
from rich.table import Table

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))

from benchmarks.common import Row


def main() -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks")
    ap.add_argument("--quick", action="store_true", help="smaller sizes, for a smoke run")
    ap.add_argument("names", nargs="*", help="benchmarks to run (default: all)")
    args = ap.parse_args()
    here = Path(__file__).resolve().parent
    names = sorted(
        m.name[len("bench_"):] for m in pkgutil.iter_modules([str(here)])
        if m.name.startswith("bench_")
    )
    chosen = args.names or names
    rows: list[Row] = []
    # Piped (a log, CI): wide enough that each row stays on one line.
    console = Console() if sys.stdout.isatty() else Console(width=140)
    for name in chosen:
        if name not in names:
            console.print(f"unknown benchmark {name!r}; have: {', '.join(names)}")
            return 2
        console.print(f"[bold]running {name}…[/bold]")
        mod = importlib.import_module(f"benchmarks.bench_{name}")
        rows.extend(mod.run(args.quick))
    table = Table(title="regauto benchmarks" + (" (quick)" if args.quick else ""))
    for col in ("benchmark", "case", "metric", "value", "target", "met"):
        table.add_column(col)
    for r in rows:
        met = "" if r.met is None else ("yes" if r.met else "NO")
        table.add_row(r.benchmark, r.case, r.metric, r.value, r.target, met)
    console.print(table)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
