"""Errors a user can cause. The CLI prints their message on one line and exits non-zero."""

from __future__ import annotations


class TokkitError(Exception):
    """Base class for every error caused by input, files or options (never by a bug in tokkit)."""

    exit_code = 2


class InputError(TokkitError):
    """An input file or value is missing, unreadable, empty or of the wrong kind."""


class UnsupportedFormatError(TokkitError):
    """A tokenizer or model file exists but is of a kind tokkit cannot use for this job."""


class TokenFileError(InputError):
    """A token container is truncated, corrupted or of an unknown version, or its metadata is out of range."""


class TokenizerMismatchError(TokkitError):
    """Tokens were made by a different tokenizer than the one asked to decode them."""


class OutputExistsError(TokkitError):
    """An output path already exists and overwriting was not requested."""
