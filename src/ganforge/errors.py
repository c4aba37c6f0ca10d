"""The one exception type meant for users.

Anything raised as :class:`GanforgeError` is a problem with the user's input (a config key,
a data file, a run directory). The CLI prints it as a single line and exits with code 2
(3 for :class:`RunStopped`, e.g. :class:`TrainingDiverged`: the input was fine, the run failed).
Programming errors are left as ordinary exceptions so that they keep their traceback.
"""


class GanforgeError(Exception):
    """A user-facing error: the message is printed as one line, without a traceback."""


class GanforgeWarning(UserWarning):
    """Something the user should know that does not stop the work (e.g. skipped files)."""


class RunStopped(GanforgeError):
    """The run was stopped because it failed (diverged beyond recovery, or collapsed for longer
    than ``doctor.stop_after``): the input was fine, the run was not. Exit code 3."""


class TrainingDiverged(RunStopped):
    """Losses, gradients or weights became NaN or infinite, and recovery gave up."""
