"""The error model: every failure a user can cause or meet is a NewsarchiveError carrying its exit code.

Library code raises these with one clear line (what, where, how to fix it); `crawler.cli.main` catches
`NewsarchiveError` once, prints ``newsarchive: <message>`` and exits with ``exit_code``. Nothing else in
the package maps exceptions to exit codes.

Exit codes: 0 done; 1 failed or nothing found (`EXIT_FAILED`); 2 bad usage or configuration
(`EXIT_USAGE`), found before anything was done.
"""

from __future__ import annotations

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


class NewsarchiveError(Exception):
    """Base of every error meant for the user: one line of message, and the exit code it means."""

    exit_code: int = EXIT_FAILED

    def __init__(self, message: str = "", *, exit_code: int | None = None) -> None:
        super().__init__(message)
        if exit_code is not None:
            self.exit_code = exit_code


class ConfigError(NewsarchiveError):
    """The configuration or the command line is wrong; found before any work was done (exit 2)."""

    exit_code = EXIT_USAGE


class ArchiveMissing(NewsarchiveError):
    """There is no archive where the command was pointed (reading commands create nothing)."""


class CatalogMissing(NewsarchiveError):
    """A catalog the command needs does not exist yet; the message says which command builds it."""


class Interrupted(NewsarchiveError):
    """The user (or the service manager) stopped the command with SIGINT/SIGTERM."""
