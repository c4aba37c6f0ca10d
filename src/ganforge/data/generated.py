"""Sets that ganforge makes itself, with no download: spoken digits, moving digits, captioned
scenes, game levels. ``ganforge dataset build KIND:NAME --out SET.gfd [--OPTION VALUE ...]``
writes one once; the dataset that trains on it reads it back (``data.name=DATASET
data.path=SET.gfd``), or makes the same samples on the fly from the same seed.

A generated set is a directory::

    SET.gfd/
      NAME.npy ...   the recipe's arrays (plain .npy, memory-mappable)
      manifest.json  the recipe, its resolved options and seed, every array's shape, dtype and
                     SHA-256, and the recipe's own record (per-sample provenance, splits, ...)

The same recipe, options and seed give byte-identical arrays (the manifest's hashes are equal).
It is written into a temporary directory next to ``--out`` and renamed over it: a crash leaves
no half-built set. Opening one (:func:`open_set`) checks every array against the manifest.

Adding a recipe is one :class:`Recipe` entry in :data:`RECIPES` (options declared here, so that
``dataset build --help`` lists them without importing the kind's code) and its ``make``
function, ``make(options: dict, seed: int, progress: bool) -> (arrays, record)``, named as
``"module:function"`` under ``ganforge`` and imported only when that recipe is built.
"""

from __future__ import annotations

import datetime
import hashlib
import importlib
import json
import os
import shutil
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Optional

import numpy as np

from ..errors import GanforgeError

FORMAT, VERSION, MANIFEST = "ganforge-generated", 1, "manifest.json"


@dataclass(frozen=True)
class Option:
    """One ``--flag`` of a recipe: its type, its default (None: the recipe decides) and help."""

    flag: str
    type: Callable = int
    default: Any = None
    help: str = ""
    choices: Optional[tuple] = None


@dataclass(frozen=True)
class Recipe:
    """A generated set: ``name`` (``KIND:NAME``, as typed), the ``dataset`` (a ``data.name``) that
    trains on it, its ``make`` function (``"module:function"`` under ``ganforge``), its options."""

    name: str
    dataset: str
    make: str
    help: str
    options: tuple[Option, ...] = field(default_factory=tuple)

    def function(self) -> Callable:
        module, fn = self.make.split(":")
        return getattr(importlib.import_module(f"ganforge.{module}"), fn)


# KIND:NAME -> recipe. Each kind adds its entry here.
RECIPES: dict[str, Recipe] = {}


def add_recipe(recipe: Recipe) -> Recipe:
    if recipe.name in RECIPES:
        raise ValueError(f"generated set '{recipe.name}' is registered twice")
    RECIPES[recipe.name] = recipe
    return recipe


def recipe(name: str) -> Recipe:
    try:
        return RECIPES[name]
    except KeyError:
        raise GanforgeError(f"dataset build {name}: no such generated set; choose one of: "
                            f"{', '.join(sorted(RECIPES)) or '(none)'}") from None


def all_options() -> dict[str, Option]:
    """Every recipe's options by flag (a flag two recipes share must mean the same type)."""
    out: dict[str, Option] = {}
    for r in RECIPES.values():
        for o in r.options:
            if o.flag in out and out[o.flag].type is not o.type:
                raise ValueError(f"generated sets: --{o.flag} has two types")
            out.setdefault(o.flag, o)
    return out


def resolve_options(r: Recipe, given: dict) -> dict:
    """The recipe's options with defaults filled in; an option of another recipe is one line."""
    mine = {o.flag: o for o in r.options}
    extra = sorted(k for k, v in given.items() if v is not None and k not in mine)
    if extra:
        takes = ", ".join(f"--{k}" for k in mine) or "no options"
        raise GanforgeError(f"dataset build {r.name}: --{extra[0].replace('_', '-')} is not one of its options "
                            f"(it takes {takes})")
    out = {}
    for k, o in mine.items():
        v = given.get(k)
        out[k] = o.default if v is None else o.type(v)
        if o.choices is not None and out[k] not in o.choices:
            raise GanforgeError(f"dataset build {r.name}: --{k} {out[k]}: choose one of "
                                f"{', '.join(map(str, o.choices))}")
    return out


def _sha(a: np.ndarray) -> str:
    return hashlib.sha256(np.ascontiguousarray(a).tobytes()).hexdigest()


@dataclass(frozen=True)
class GeneratedSet:
    """An opened generated set: its ``path``, ``manifest`` and arrays (memory-mapped)."""

    path: Path
    manifest: dict

    @property
    def recipe(self) -> str:
        return self.manifest["recipe"]

    @property
    def options(self) -> dict:
        return self.manifest["options"]

    @property
    def record(self) -> dict:
        return self.manifest.get("record", {})

    def array(self, name: str) -> np.ndarray:
        entry = self.manifest["arrays"].get(name)
        if entry is None:
            raise GanforgeError(f"{self.path}: holds no array '{name}' (it has {', '.join(self.manifest['arrays'])})")
        return np.load(self.path / entry["file"], mmap_mode="r", allow_pickle=False)


def build(name: str, out, seed: int = 0, force: bool = False, progress: bool = True, **options) -> GeneratedSet:
    """Make the generated set ``name`` (``KIND:NAME``) with ``options`` and ``seed`` into ``out``
    (a directory), atomically; ``force`` replaces an existing one. Returns it, opened."""
    from .._version import __version__
    from ..files import check_output

    r = recipe(name)
    opts = resolve_options(r, options)
    out = Path(out).expanduser()
    if out.exists() and not force:
        raise GanforgeError(f"--out {out}: already exists; pass --force to build it again")
    check_output(out, "--out")
    arrays, record = r.function()(opts, seed, progress)  # the recipe's own errors come before any file
    tmp = out.absolute().parent / f".{out.name}.{uuid.uuid4().hex[:8]}.tmp"
    tmp.mkdir(parents=True)
    try:
        entries = {}
        for key, a in arrays.items():
            a = np.ascontiguousarray(a)
            with open(tmp / f"{key}.npy", "wb") as f:
                np.save(f, a, allow_pickle=False)
                f.flush()
                os.fsync(f.fileno())
            entries[key] = {"file": f"{key}.npy", "shape": list(a.shape), "dtype": str(a.dtype), "sha256": _sha(a)}
        manifest = {"format": FORMAT, "version": VERSION, "ganforge": __version__,
                    "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
                    "recipe": r.name, "dataset": r.dataset, "seed": seed, "options": opts,
                    "arrays": entries, "record": record}
        with open(tmp / MANIFEST, "w", encoding="utf-8") as f:
            f.write(json.dumps(manifest, indent=1) + "\n")
            f.flush()
            os.fsync(f.fileno())
        old = None
        if out.exists():
            old = out.absolute().parent / f".{out.name}.{uuid.uuid4().hex[:8]}.old"
            os.replace(out, old)
        os.replace(tmp, out)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return GeneratedSet(out, manifest)


def is_generated(path) -> bool:
    """Whether ``path`` holds a generated set (its manifest says so), not a built image set."""
    try:
        return json.loads((Path(path) / MANIFEST).read_text(encoding="utf-8")).get("format") == FORMAT
    except (OSError, ValueError, AttributeError):
        return False


def open_set(path, expect: Optional[str] = None, check: bool = True) -> GeneratedSet:
    """Open the generated set at ``path``; ``expect``: the recipe it must be (one line when it is
    another or when ``path`` is not a generated set); ``check``: hash every array against the
    manifest (an edited or truncated file is refused with the command that rebuilds it)."""
    path = Path(path).expanduser()
    mpath = path / MANIFEST
    if not mpath.is_file():
        what = f"built with `ganforge dataset build {expect} --out {path}`" if expect else "a generated set"
        raise GanforgeError(f"data.path={path}: not {what} (no {MANIFEST})")
    try:
        m = json.loads(mpath.read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise GanforgeError(f"{mpath}: unreadable manifest ({e})") from None
    if m.get("format") != FORMAT:
        raise GanforgeError(f"data.path={path}: not a generated set (its manifest says format {m.get('format')!r})")
    if expect is not None and m.get("recipe") != expect:
        raise GanforgeError(f"data.path={path}: a {m.get('recipe')} set, not {expect}")
    hint = (f"rebuild it: ganforge dataset build {m['recipe']} --out {path} --force --seed {m['seed']} "
            + " ".join(f"--{k.replace('_', '-')} {v}" for k, v in m["options"].items())).rstrip()
    for key, e in m["arrays"].items():
        f = path / e["file"]
        try:
            a = np.load(f, mmap_mode="r", allow_pickle=False)
        except (OSError, ValueError) as err:
            raise GanforgeError(f"{f}: unreadable ({err}); {hint}") from None
        if list(a.shape) != e["shape"] or str(a.dtype) != e["dtype"] or (check and _sha(a) != e["sha256"]):
            raise GanforgeError(f"{f}: does not match its manifest (edited or truncated); {hint}")
    return GeneratedSet(path, m)


add_recipe(Recipe("levels:platformer", "platformer", "data.level_gen:make_platformer",
                  "side-scrolling platformer levels (14 rows) cut into 28-column windows, each played by the agent",
                  (Option("levels", int, 200, "number of whole levels"),
                   Option("width", int, 112, "columns per level (a multiple of 28)"),
                   Option("max_gap", int, 4, "widest gap, 1..4 (the agent clears 4)"),
                   Option("gap_rate", float, 0.12, "chance per segment of a gap"),
                   Option("enemy_rate", float, 0.08, "chance per flat ground column of an enemy"),
                   Option("pipe_rate", float, 0.06, "chance per column of a pipe"),
                   Option("platform_rate", float, 0.08, "chance per column of a floating platform"))))
add_recipe(Recipe("levels:dungeon", "dungeon", "data.level_gen:make_dungeon",
                  "top-down dungeons 16 x 16: rooms, doors, locked doors with keys, a start and an exit",
                  (Option("levels", int, 1000, "number of dungeons"),
                   Option("locked", int, 2, "locked doors on the way to the exit (each needs a key)"),
                   Option("loops", int, 1, "extra openings beyond the spanning tree"),
                   Option("enemy_rate", float, 0.04, "chance per floor tile of an enemy"),
                   Option("lava_rate", float, 0.02, "chance per floor tile of lava"))))
# spoken digits, "zero".."nine" said by espeak-ng voices (data/kinds/audio_io.py; data.name=speech_digits)
add_recipe(Recipe(
    "speech:digits", "speech_digits", "data.kinds.audio_io:make_speech_digits",
    "spoken digits made with espeak-ng: voices x pitch levels x 10 words x repeats, 1 s clips; the test split "
    "holds out whole voice+pitch combinations",
    (Option("voices", int, 8, "espeak-ng voices (with variants), 1 to 12"),
     Option("pitches", int, 4, "pitch levels per voice (one of them held out for the test split)"),
     Option("repeats", int, 4, "times each speaker says each digit (random speed, amplitude, room, noise)"),
     Option("sample_rate", int, 16000, "samples a second (Hz)"),
     Option("seconds", float, 1.0, "clip length in seconds"))))
add_recipe(Recipe("video:moving-digits", "moving_digits", "data.moving_digits:make",
                  "bouncing digits (Moving MNIST style) from the bundled 8x8 digits; test clips use held-out digits",
                  (Option("digits", int, 1, "digits per clip", (1, 2)),
                   Option("frames", int, 16, "frames per clip (8 to 32)"),
                   Option("size", int, 32, "canvas side in px", (32, 64)),
                   Option("n", int, 4000, "training clips"),
                   Option("n_test", int, 1000, "test clips (held-out digits)"))))
add_recipe(Recipe("text:digit-scenes", "digit_scenes", "data.scenes:make",
                  "captioned scenes of one or two coloured digits (text to image), with held-out combinations",
                  (Option("n", int, 10000, "training scenes"), Option("test", int, 1000, "test scenes (half held out)"),
                   Option("side", int, 32, "canvas side in pixels", (32, 64)),
                   Option("captions", int, 5, "captions per scene"))))
