"""User-facing errors: one line that names the problem and the fix."""


class GanforgetError(Exception):
    """A bad input or an unrecoverable run state, reported to the user as one line.

    The CLI prints ``error: <message>`` and exits with status 2 instead of a traceback.
    """


class ConfigError(GanforgetError):
    """A config key, value or CLI option that is unknown, of the wrong type or out of range."""


class DataError(GanforgetError):
    """A dataset directory or file that is missing, truncated or malformed."""


class CheckpointError(GanforgetError):
    """A checkpoint that is missing, truncated, corrupted or unsafe to load."""


class DivergenceError(GanforgetError):
    """A NaN or Inf appeared in a loss or a parameter during training."""
