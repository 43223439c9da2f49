"""Errors that mean bad input, not a bug: the entry point prints them as one line, without a traceback."""


class MathlitError(Exception):
    """Base of mathlit's user-facing errors."""


class DataError(MathlitError, ValueError):
    """Bad input data; the message names the file (and line) and what is wrong."""


class ConfigError(MathlitError, ValueError):
    """A config value that cannot work; the message names the key."""


class SamplingError(MathlitError, RuntimeError):
    """Sampling failed (engine start, out of memory); the message says what was kept."""


class StorageError(MathlitError, OSError):
    """A file could not be written (full disk, quota, read-only or another user's folder); names the file."""
