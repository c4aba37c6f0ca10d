"""The one exception type meant for users.

Anything raised as :class:`GanforgeError` is a problem with the user's input (a config key,
a data file, a run directory). The CLI prints it as a single line and exits with code 2
(3 for :class:`RunStopped`, e.g. :class:`TrainingDiverged`: the input was fine, the run failed;
4 for :class:`WriteFailed`: a disk full or a read-only directory).
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


class WriteFailed(GanforgeError):
    """A file could not be written: the disk is full, or the directory is read-only or gone.
    The input was fine; the CLI exits with code 4. Files are written atomically, so what was
    complete before (the newest checkpoint) stays complete."""


def os_error_line(e: OSError) -> str:
    """One line for a failed write: which file, and why (``No space left on device``, ...)."""
    where = f"{e.filename}: " if e.filename else ""
    return f"{where}{e.strerror or e}"
