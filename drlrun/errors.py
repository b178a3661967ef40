"""User-facing errors: one clear line, exit code 2, no traceback."""


class DrlrunError(Exception):
    """An error caused by the user's input (config, paths, checkpoints); the message names the fix."""

    exit_code = 2


class NonFiniteLossError(DrlrunError):
    """Training produced a NaN/inf loss; the run stops and keeps its last good checkpoint."""
