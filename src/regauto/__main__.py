"""Entry point: ``regauto`` and ``python -m regauto``.

Git hooks call ``regauto hook …`` and ``regauto merge-driver …`` on every commit, checkout
and merge, so those two go through a small argparse front end that never imports typer
or rich (a typer+rich ``--help`` alone costs ~240 ms; the hook's budget is the
pre-commit framework's own ~200 ms).  ``check``, which CI runs on every push, has its
own for its common forms (``cli.check_entry``).  Everything else goes to the typer app.
"""

from __future__ import annotations

import sys

FAST_COMMANDS = ("hook", "merge-driver")


def _first_command(argv: list[str]) -> str | None:
    skip = False
    for a in argv:
        if skip:
            skip = False
            continue
        if a in ("--root", "--config", "--format"):
            skip = True
            continue
        if a.startswith("-"):
            continue
        return a
    return None


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if _first_command(args) in FAST_COMMANDS:
        from regauto.cli.git_entry import main as fast_main

        return fast_main(args)
    if _first_command(args) == "check":
        from regauto.cli.check_entry import main as check_main

        rc = check_main(args)
        if rc is not None:
            return rc
    from regauto.cli.app import main as app_main

    return app_main(args)


if __name__ == "__main__":
    raise SystemExit(main())
