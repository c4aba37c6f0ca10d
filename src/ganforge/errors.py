"""The one exception type meant for users.

Anything raised as :class:`GanforgeError` is a problem with the user's input (a config key,
a data file, a run directory). The CLI prints it as a single line and exits with code 2.
Programming errors are left as ordinary exceptions so that they keep their traceback.
"""


class GanforgeError(Exception):
    """A user-facing error: the message is printed as one line, without a traceback."""


class GanforgeWarning(UserWarning):
    """Something the user should know that does not stop the work (e.g. skipped files)."""
