"""Exception types that the command line turns into one clear message."""


class GesturedError(Exception):
    """An error caused by input or setup that the user can fix.

    The command line prints its message and exits non-zero without a traceback.
    """


class DatasetError(GesturedError, ValueError):
    """A dataset file or row that is missing, corrupt or does not fit the schema."""


class ModelError(GesturedError):
    """A model folder, manifest or model file that is missing or invalid."""


class ConfigError(GesturedError, ValueError):
    """An invalid configuration key or value."""
