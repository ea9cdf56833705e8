"""The error hierarchy: every error a user can cause maps to one exit code (SPEC §8.1).

The library raises these; only the CLI's error boundary (``regauto.cli.boundary``) turns
them into one line on stderr and an exit code.  Anything else is an internal error (exit 4).
"""

from __future__ import annotations

EXIT_OK = 0
EXIT_DRIFT = 1
EXIT_USAGE = 2
EXIT_CONFLICT = 3
EXIT_INTERNAL = 4


class RegautoError(Exception):
    """Base of every error regauto expects; ``exit_code`` says how the CLI ends."""

    exit_code = EXIT_INTERNAL


class UsageError(RegautoError):
    """Bad arguments, bad configuration, bad input (exit 2)."""

    exit_code = EXIT_USAGE


class ConfigError(UsageError):
    """The configuration file has an unknown key or a bad value."""


class BadInputError(UsageError):
    """A file, path, patch or record given to regauto is malformed or unsafe."""


class RegistryFormatError(BadInputError):
    """A registry file does not parse; the message names the file and line."""


class PatchError(BadInputError):
    """A PromotionPatch is malformed or would produce an invalid registry."""


class CASConflict(RegautoError):
    """The registry changed since the patch was computed (exit 3)."""

    exit_code = EXIT_CONFLICT

    def __init__(self, expected: str, actual: str) -> None:
        super().__init__(
            f"registry changed since the patch was computed (base_hash {expected}, "
            f"now {actual}); re-read and recompute"
        )
        self.expected = expected
        self.actual = actual


class LockTimeout(RegautoError):
    """A lock could not be taken in time (exit 3); the message names the lock."""

    exit_code = EXIT_CONFLICT


class GitError(RegautoError):
    """git failed or is not usable here (exit 2: the user can act on it)."""

    exit_code = EXIT_USAGE


class CalledProcessError(RegautoError):
    """A subprocess failed; the text holds the command, exit code and both streams."""

    exit_code = EXIT_INTERNAL

    def __init__(self, cmd: tuple[str, ...], returncode: int, stdout: bytes, stderr: bytes):
        self.cmd = cmd
        self.returncode = returncode
        self.stdout = stdout
        self.stderr = stderr
        super().__init__(
            f"command {' '.join(cmd)!s} exited {returncode}\n"
            f"stdout: {stdout.decode(errors='replace').strip()}\n"
            f"stderr: {stderr.decode(errors='replace').strip()}"
        )


class DriftFound(RegautoError):
    """Used by commands that end with exit 1 (drift found / hook changed files)."""

    exit_code = EXIT_DRIFT
