"""Run directories: new numbered ones under runs/, never writing over an existing run, one
writer at a time (:class:`RunLock`), and no temporary files left behind by a killed run."""

from __future__ import annotations

import contextlib
import errno
import os
import re
import shlex
import socket
from pathlib import Path
from typing import Iterator, Optional

from .errors import GanforgeError

LOCK_NAME = ".lock"

_NUMBERED = re.compile(r"^(\d{3,})-")


def is_run(path: Path) -> bool:
    path = Path(path)
    return (path / "config.yaml").exists() or any(path.glob("ckpt-*.pt"))


def new_run_dir(out: Optional[str], name: str, root: Path = Path("runs")) -> Path:
    """``out`` if given (it must not hold a run already), else ``runs/NNN-name``."""
    if out is not None:
        path = Path(out)
        if path.exists() and not path.is_dir():
            raise GanforgeError(f"--out {out}: exists and is not a directory")
        if path.is_dir() and is_run(path):
            raise GanforgeError(f"--out {out}: already holds a run; use --resume {out} or another --out")
        if path.is_dir():
            check_free(path)
        path.mkdir(parents=True, exist_ok=True)
        return path
    root.mkdir(parents=True, exist_ok=True)
    taken = [int(m.group(1)) for p in root.iterdir() if (m := _NUMBERED.match(p.name))]
    number = max(taken, default=0) + 1
    while True:  # mkdir is atomic: two runs started together still get different directories
        path = root / f"{number:03d}-{name}"
        try:
            path.mkdir()
            return path
        except FileExistsError:
            number += 1


def existing_run(path: str) -> Path:
    p = Path(path)
    if not p.is_dir() or not is_run(p):
        raise GanforgeError(f"{path}: not a ganforge run directory (no config.yaml or checkpoint)")
    return p


# ----------------------------------------------------------------------------- one writer per run


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, another user's
        return True
    return True


def _holder(path: Path) -> tuple[str, int]:
    """(host, pid) written in a lock file, or ("", 0) if it says nothing readable."""
    try:
        host, _, pid = path.read_text().strip().partition(":")
        return host, int(pid)
    except (OSError, ValueError):
        return "", 0


class RunLock:
    """An advisory lock on a run directory, held while a process trains in it: a second
    ``train`` (``--resume`` or a racing ``--out``) refuses instead of interleaving its
    checkpoints and log with the first one's.

    The lock is ``RUN/.lock``, holding ``host:pid``, locked with ``flock``: the kernel releases
    it when its process dies, even by SIGKILL, so a lock left by a dead process is stale and
    taken over. Where ``flock`` is not supported (some network file systems), a lock file
    naming a live pid on this host is honoured and any other is stale."""

    def __init__(self, run_dir: Path):
        self.path = Path(run_dir) / LOCK_NAME
        self._fd: Optional[int] = None

    def acquire(self, probe: bool = False) -> "RunLock":
        """Take the lock, or raise GanforgeError naming its holder. ``probe``: only check that
        it is free (and release it at once), writing nothing."""
        if probe and not self.path.exists():
            return self
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            import fcntl

            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            host, pid = _holder(self.path)
            by = f" by pid {pid}" + (f" on {host}" if host and host != socket.gethostname() else "") if pid else ""
            raise GanforgeError(f"{self.path.parent}: in use{by} (another ganforge train holds {self.path}); "
                                f"wait for it to finish or stop it first") from None
        except (ImportError, OSError) as e:  # no flock here: judge by the pid in the file
            if isinstance(e, OSError) and e.errno not in (errno.ENOLCK, errno.EOPNOTSUPP, errno.ENOSYS):
                os.close(fd)
                raise
            host, pid = _holder(self.path)
            if pid and pid != os.getpid() and host == socket.gethostname() and _pid_alive(pid):
                os.close(fd)
                raise GanforgeError(f"{self.path.parent}: in use by pid {pid} (it holds {self.path}); "
                                    f"wait for it to finish or stop it first") from None
        if probe:
            os.close(fd)
            return self
        os.ftruncate(fd, 0)
        os.write(fd, f"{socket.gethostname()}:{os.getpid()}\n".encode())
        self._fd = fd
        return self

    def release(self) -> None:
        if self._fd is None:
            return
        # the file stays: unlinking it would let a process that opened it just before lock a
        # file nobody else can see. Closing releases the flock; the pid left in it is stale.
        os.close(self._fd)
        self._fd = None

    def __enter__(self) -> "RunLock":
        return self.acquire()

    def __exit__(self, *exc) -> None:
        self.release()


def check_free(run_dir: Path) -> None:
    """Raise GanforgeError if another process trains in ``run_dir`` now: checked before any
    output, so that a refused command prints one line and nothing else."""
    RunLock(run_dir).acquire(probe=True)


@contextlib.contextmanager
def hold_run(run_dir: Path, fresh: bool, enabled: bool = True) -> Iterator[None]:
    """Hold ``run_dir``'s :class:`RunLock` for a training's lifetime; under it, remove the
    temporary files that a killed writer left, and for a ``fresh`` run check that no other run
    has been started there meanwhile (two ``--out`` racing for one directory)."""
    if not enabled:  # under torchrun, rank 0 alone holds it
        yield
        return
    with RunLock(run_dir):
        if fresh and is_run(run_dir):
            raise GanforgeError(f"{run_dir}: already holds a run; use --resume {run_dir} or another --out")
        remove_temporaries(run_dir)
        yield


_TEMPORARY = re.compile(r"^\..+\.[0-9a-f]{8}\.tmp$")  # ganforge.files.atomic_open's names


def remove_temporaries(run_dir: Path) -> list[Path]:
    """Delete the temporary files of atomic writes that never finished (a writer killed between
    creating and renaming them) in ``run_dir`` and its sub-folders; returns them. Only call this
    while holding the run's lock: a live writer's temporary file looks the same."""
    removed = []
    for p in Path(run_dir).rglob(".*.tmp"):
        if _TEMPORARY.match(p.name) and p.is_file():
            with contextlib.suppress(OSError):
                p.unlink()
                removed.append(p)
    return removed


def summary(run_dir: Path, sample_file: str = "grid.png") -> list[str]:
    """The end of a run, in a few lines: where its samples, checkpoints and report are, and the
    commands to try next with this run's directory filled in (``sample_file``: what `ganforge
    sample` writes for this run's kind of data)."""
    run_dir = Path(run_dir)
    grids = sorted((run_dir / "samples").glob("step-*.png"))
    ckpts = sorted(run_dir.glob("ckpt-*.pt"))
    where = shlex.quote(str(run_dir))
    lines = []
    if grids:
        lines.append(f"samples:     {grids[-1]}" + (f" (and {len(grids) - 1} earlier)" if len(grids) > 1 else ""))
    if ckpts:
        lines.append(f"checkpoint:  {ckpts[-1]}")
    lines += [f"metrics:     {run_dir / 'metrics.jsonl'}",
              "next:",
              f"  ganforge sample {where} --n 64 --out {shlex.quote(str(run_dir / sample_file))}   # new samples",
              f"  ganforge report {where}        # {run_dir / 'report.html'}: curves, phases, samples",
              f"  ganforge doctor {where}        # what went well or wrong, with remedies",
              f"  ganforge board {shlex.quote(str(run_dir.parent))}   # every run in {run_dir.parent}, in the browser"]
    return lines
