"""Faults a run survives (README, "Reliability"): SIGKILL, a full disk, two writers, damaged
files in a run directory, extending a decaying schedule, a tampered checkpoint."""

import errno
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from ganforge.cli import main
from ganforge.train.checkpoint import list_checkpoints, load_checkpoint

from test_train import assert_same_state, final_state

SRC = str(Path(__file__).resolve().parents[1] / "src")
STEPS = ["train.steps=150", "train.ckpt_every=50", "train.keep_ckpts=5"]


def cli(tmp_path, tiny, out, *extra):
    return main(["train", "--preset", "grid25", "--out", str(tmp_path / out), *tiny, *STEPS, *extra])


def train_steps(run_dir):
    recs = [json.loads(x) for x in (run_dir / "metrics.jsonl").read_text().splitlines()]
    return [r["step"] for r in recs if "loss_d" in r]


def temporaries(run_dir):
    return [p for p in run_dir.rglob("*.tmp")]


def one_error_line(capsys, *words):
    cap = capsys.readouterr()
    err = cap.err.strip()
    assert err.startswith("ganforge: error:") and "\n" not in err and "Traceback" not in err, err
    for w in words:
        assert w in err, (w, err)
    return err


@pytest.fixture
def whole(tmp_path, tiny):
    """The uninterrupted run every faulted one must equal."""
    assert cli(tmp_path, tiny, "whole") == 0
    return tmp_path / "whole"


# ----------------------------------------------------------------------------- SIGKILL

_KILLED_WRITING = """
import os, signal, sys
import ganforge.files as gio
from ganforge.cli import main
calls = [0]
real = gio.torch.save
def save(obj, f):  # the 2nd checkpoint: half written, then the process is killed
    calls[0] += 1
    if calls[0] == 2:
        f.write(b"x" * 1000); f.flush(); os.kill(os.getpid(), signal.SIGKILL)
    return real(obj, f)
gio.torch.save = save
sys.exit(main(sys.argv[1:]))
"""


def _env():
    return {**os.environ, "PYTHONPATH": SRC + os.pathsep + os.environ.get("PYTHONPATH", "")}


def test_sigkill_while_writing_a_checkpoint_resumes_exactly(tmp_path, tiny, whole):
    args = ["train", "--preset", "grid25", "--out", str(tmp_path / "k"), *tiny, *STEPS]
    proc = subprocess.run([sys.executable, "-c", _KILLED_WRITING, *args], env=_env(), capture_output=True)
    assert proc.returncode == -signal.SIGKILL
    k = tmp_path / "k"
    assert [s for s, _ in list_checkpoints(k)] == [50] and temporaries(k)  # the half-written file is left
    assert (k / ".lock").exists()  # ... and its lock file, whose flock died with the process
    assert main(["train", "--resume", str(k)]) == 0
    assert not temporaries(k)  # cleared under the lock at the next start
    assert_same_state(final_state(whole), final_state(k))
    assert train_steps(k) == train_steps(whole) == list(range(10, 151, 10))  # each step once


def test_sigkill_at_an_arbitrary_moment_resumes_exactly(tmp_path, tiny, whole):
    k = tmp_path / "k"
    args = [sys.executable, "-m", "ganforge", "train", "--preset", "grid25", "--out", str(k), *tiny, *STEPS]
    proc = subprocess.Popen(args, env=_env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while not list_checkpoints(k) and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.01)
    proc.send_signal(signal.SIGKILL)  # somewhere after the first checkpoint (or after the end)
    proc.wait()
    if proc.returncode == 0:
        pytest.skip("the run finished before it could be killed")
    assert main(["train", "--resume", str(k)]) == 0
    assert_same_state(final_state(whole), final_state(k))
    assert train_steps(k) == list(range(10, 151, 10)) and not temporaries(k)


# ----------------------------------------------------------------------------- a full disk


class _DiskFullFrom:
    """A callback that makes every write fail with ENOSPC from ``step`` on."""

    def __init__(self, monkeypatch, step):
        self.mp, self.step = monkeypatch, step

    def on_start(self, run): ...
    def on_log(self, run, record): ...
    def observe(self, run, record): return ()

    def on_step_end(self, run, step):
        if step == self.step:
            def full(writer, b):  # as ganforge.files._Writes.write meets a full disk
                writer.error = OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
                raise writer.error

            self.mp.setattr("ganforge.files._Writes.write", full)


def test_disk_full_while_checkpointing_stops_with_one_line_and_resumes(tmp_path, tiny, whole, monkeypatch, capsys):
    """Simulated: from step 70 every checkpoint write raises ENOSPC (monkeypatched writer)."""
    import ganforge.api as api

    real = api.callbacks_for
    monkeypatch.setattr(api, "callbacks_for", lambda cfg, extra=(): real(cfg, [_DiskFullFrom(monkeypatch, 70)]))
    assert cli(tmp_path, tiny, "r") == 4
    err = one_error_line(capsys, "No space left on device", "newest complete checkpoint is step 50", "--resume")
    r = tmp_path / "r"
    assert [s for s, _ in list_checkpoints(r)] == [50] and not temporaries(r)
    load_checkpoint(r)  # loadable
    monkeypatch.undo()  # space is back
    assert main(["train", "--resume", str(r)]) == 0, err
    assert_same_state(final_state(whole), final_state(r))
    assert train_steps(r) == list(range(10, 151, 10))


def _mount_tmpfs(path: Path, size: str) -> bool:
    path.mkdir()
    if os.geteuid() != 0:
        return False
    return subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)],
                          capture_output=True).returncode == 0


def test_a_real_full_disk_on_a_small_tmpfs(tmp_path, tiny):
    """Real ENOSPC from the kernel: the run directory on a tmpfs of 300 KiB, room for one
    checkpoint of ~190 KB but not two (root only)."""
    disk = tmp_path / "disk"
    if not _mount_tmpfs(disk, "300k"):
        pytest.skip("cannot mount a tmpfs here (needs root)")
    try:
        r = disk / "r"
        args = [sys.executable, "-m", "ganforge", "train", "--preset", "grid25", "--out", str(r), *tiny, *STEPS,
                "model.g_width=64", "model.d_width=64"]
        whole_wide = subprocess.run(args[:7] + [str(tmp_path / "w")] + args[8:], env=_env(), capture_output=True)
        assert whole_wide.returncode == 0
        proc = subprocess.run(args, env=_env(), capture_output=True, text=True)
        assert proc.returncode == 4, proc.stderr
        err = proc.stderr.strip()
        assert "\n" not in err and "No space left on device" in err and "Traceback" not in err, err
        found = list_checkpoints(r)
        assert found and not temporaries(r)
        load_checkpoint(r)  # the newest complete checkpoint stays loadable
        subprocess.run(["mount", "-o", "remount,size=16m", str(disk)], check=True)  # space is back
        proc = subprocess.run([sys.executable, "-m", "ganforge", "train", "--resume", str(r)], env=_env(),
                              capture_output=True, text=True)
        assert proc.returncode == 0, proc.stderr
        assert_same_state(final_state(tmp_path / "w"), final_state(r))
    finally:
        subprocess.run(["umount", str(disk)])


# ----------------------------------------------------------------------------- two writers

_HOLD = """
import sys, time
from ganforge.rundir import RunLock
RunLock(sys.argv[1]).acquire()
print("locked", flush=True)
time.sleep(120)
"""


def test_a_second_writer_is_refused_and_a_dead_ones_lock_is_stale(tmp_path, tiny, capsys):
    assert cli(tmp_path, tiny, "r") == 0
    r = tmp_path / "r"
    holder = subprocess.Popen([sys.executable, "-c", _HOLD, str(r)], env=_env(), stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        before = sorted(p.name for p in r.iterdir()), (r / "metrics.jsonl").read_text()
        capsys.readouterr()
        assert main(["train", "--resume", str(r), "train.steps=200"]) == 2
        one_error_line(capsys, "in use by pid", str(holder.pid))
        assert (sorted(p.name for p in r.iterdir()), (r / "metrics.jsonl").read_text()) == before
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait()
    assert main(["train", "--resume", str(r), "train.steps=200"]) == 0  # the dead holder's lock is stale


def test_racing_out_directories_cannot_both_train(tmp_path, tiny, capsys):
    """Two `--out r` started together: both pass the CLI's check; the lock and the re-check
    under it let only one train there."""
    from ganforge.rundir import hold_run

    r = tmp_path / "r"
    r.mkdir()
    with hold_run(r, fresh=True):  # the first one holds the lock ...
        assert cli(tmp_path, tiny, "r") == 2
        one_error_line(capsys, "in use")
        (r / "config.yaml").write_text("{}")  # ... and has started its run
    assert cli(tmp_path, tiny, "r") == 2  # the second, after the first: already a run here
    one_error_line(capsys, "already holds a run")


# ----------------------------------------------------------------------------- damaged files


def test_truncated_newest_checkpoint_falls_back_and_says_so(tmp_path, tiny, whole, capsys):
    assert cli(tmp_path, tiny, "r") == 0
    r = tmp_path / "r"
    newest = r / "ckpt-0000150.pt"
    newest.write_bytes(newest.read_bytes()[:2000])  # as a copy cut short, or a disk that filled up
    capsys.readouterr()
    assert main(["train", "--resume", str(r)]) == 0
    err = capsys.readouterr().err
    assert "ckpt-0000150.pt: truncated or unreadable; using ckpt-0000100.pt" in err
    assert (r / "ckpt-0000150.pt.damaged").exists()
    assert_same_state(final_state(whole), final_state(r))
    assert train_steps(r) == list(range(10, 151, 10))


def test_torn_last_line_of_the_log_is_skipped_and_said(tmp_path, tiny, capsys):
    assert cli(tmp_path, tiny, "r") == 0
    r = tmp_path / "r"
    text = (r / "metrics.jsonl").read_text()
    (r / "metrics.jsonl").write_text(text[:-25])
    capsys.readouterr()
    assert main(["doctor", str(r), "--json"]) == 0
    cap = capsys.readouterr()
    assert "skipped 1 unreadable line" in cap.err and json.loads(cap.out)["last_step"] == 150


def test_missing_config_uses_the_checkpoints_and_an_edited_one_is_refused(tmp_path, tiny, capsys):
    assert cli(tmp_path, tiny, "r") == 0
    r = tmp_path / "r"
    stored = (r / "config.yaml").read_text()
    (r / "config.yaml").write_text(stored.replace("d_steps: 2", "d_steps: 1"))
    capsys.readouterr()
    assert main(["train", "--resume", str(r), "train.steps=200"]) == 2
    one_error_line(capsys, "differs from the config in ckpt-0000150.pt", "train.d_steps=1", "2")
    assert main(["train", "--resume", str(r), "train.steps=200", "train.d_steps=1"]) == 0  # said explicitly: fine
    (r / "config.yaml").unlink()
    capsys.readouterr()
    assert main(["train", "--resume", str(r), "train.steps=250"]) == 0
    assert "config.yaml: missing; using the config stored in ckpt-0000200.pt" in capsys.readouterr().err


def test_a_checkpoint_holding_code_is_refused_in_plain_words_before_any_output(tmp_path, tiny, capsys):
    assert cli(tmp_path, tiny, "r", "train.progress=true") == 0
    r = tmp_path / "r"
    marker = tmp_path / "pwned"

    class Payload:
        def __reduce__(self):
            return (os.system, (f"touch {marker}",))

    torch.save({"format": 1, "step": 999, "x": Payload()}, r / "ckpt-0000999.pt")
    before = (r / "metrics.jsonl").read_text()
    capsys.readouterr()
    for args in (["train", "--resume", str(r), "train.steps=2000"], ["sample", str(r), "--n", "3", "--out",
                                                                        str(tmp_path / "s.npy")]):
        assert main(args) == 2
        err = one_error_line(capsys, "refused", "pickled code", "posix.system")
        assert "weights_only" not in err
    assert not marker.exists() and not (tmp_path / "s.npy").exists()
    assert (r / "metrics.jsonl").read_text() == before


# ----------------------------------------------------------------------------- extending a schedule


def test_schedule_keys_default_to_the_old_schedule():
    from ganforge.train.schedule import lr_factor

    for kind in ("linear", "cosine"):
        for step in (1, 37, 100):
            assert lr_factor(kind, step, 100, 0, 0) == lr_factor(kind, step, 100)
    assert lr_factor("linear", 150, 200, 0, 100) == lr_factor("linear", 100, 100)  # held after its end
    assert lr_factor("linear", 101, 200, 100, 0) == 1.0  # a restart


@pytest.mark.parametrize("mode, first, last", [
    ("restart", 1.0, 1 - 49 / 50),          # decays again over the 50 new steps
    ("continue", 1 - 99 / 100, 1 - 99 / 100),  # holds the rate the first run ended at
    ("rescale", 1 - 100 / 150, 1 - 149 / 150),  # one decay stretched over 150 steps
])
def test_extend_a_finished_decaying_run(tmp_path, tiny, capsys, mode, first, last):
    assert cli(tmp_path, tiny, "r", "train.steps=100") == 0  # grid25: linear decay, d_lr 1e-3
    r = tmp_path / "r"
    capsys.readouterr()
    assert main(["train", "--resume", str(r), "--extend", mode, "train.steps=150", "train.ckpt_every=1"]) == 0
    err = capsys.readouterr().err
    assert "train.steps 100 -> 150 with optim.schedule=linear" in err and f"--extend {mode}" in err
    lr = {s: load_checkpoint(r, s)["opt_d"]["param_groups"][0]["lr"] for s in (146, 150)}
    assert lr[150] == pytest.approx(1e-3 * last)
    ckpt = load_checkpoint(r)
    assert ckpt["config"]["optim"]["schedule_start"] == {"restart": 100, "continue": 0, "rescale": 0}[mode]
    # and the first resumed update: its rate is in the warning
    assert f"x{first:.3g} at step 101" in err


def test_an_extended_run_resumes_exactly(tmp_path, tiny):
    """Extended with a restart, stopped and resumed == extended without stopping."""
    for name in ("a", "b"):
        assert cli(tmp_path, tiny, name, "train.steps=100") == 0
    assert main(["train", "--resume", str(tmp_path / "a"), "train.steps=200"]) == 0
    assert main(["train", "--resume", str(tmp_path / "b"), "train.steps=200", "train.ckpt_every=25"]) == 0
    for s in (200, 175):
        (tmp_path / "b" / f"ckpt-{s:07d}.pt").unlink()  # stopped at 150 (after the extension)
    assert main(["train", "--resume", str(tmp_path / "b")]) == 0  # no --extend: train.steps is unchanged
    assert_same_state(final_state(tmp_path / "a"), final_state(tmp_path / "b"))


def test_extending_keeps_the_instance_noise_horizon(tmp_path, tiny, capsys):
    """Noise annealed over train.steps: the extended run stays noiseless after the old horizon."""
    assert cli(tmp_path, tiny, "r", "train.steps=60", "train.instance_noise=0.1") == 0
    capsys.readouterr()
    assert main(["train", "--resume", str(tmp_path / "r"), "train.steps=90"]) == 0
    err = capsys.readouterr().err
    assert "keeps annealing to 0 over the first 60 steps" in err
    assert load_checkpoint(tmp_path / "r")["config"]["train"]["instance_noise_steps"] == 60
    # an explicit horizon is the user's choice, without a warning
    assert cli(tmp_path, tiny, "s", "train.steps=60", "train.instance_noise=0.1") == 0
    capsys.readouterr()
    assert main(["train", "--resume", str(tmp_path / "s"), "train.steps=90", "train.instance_noise_steps=90"]) == 0
    assert "keeps annealing" not in capsys.readouterr().err


def test_sample_plots_rotate_keeping_the_first(tmp_path, tiny):
    assert cli(tmp_path, tiny, "r", "train.steps=60", "train.sample_every=10", "train.keep_samples=3") == 0
    names = sorted(p.name for p in (tmp_path / "r" / "samples").glob("*.png"))
    assert names == ["step-0000010.png", "step-0000050.png", "step-0000060.png"]
