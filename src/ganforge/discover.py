"""What a user can set, read from the source of truth: ``ganforge keys`` and ``ganforge presets``.

Config keys come from the dataclasses in ``config.py``: the name and type from the field, the
default from the dataclass, and the meaning from the comment on the field's line (or the
comment lines right above it). Presets come from the shipped YAML files: the description is
the first sentence of the file's own leading comment, and what it trains is read from the
config it resolves to. Nothing here imports torch.
"""

from __future__ import annotations

import ast
import io
import re
import tokenize
import typing
from dataclasses import MISSING, dataclass, fields, is_dataclass
from functools import lru_cache
from importlib import resources
from typing import Any, Optional, Union, get_args, get_origin, get_type_hints

from .config import Config, load_config, preset_names
from .errors import GanforgeError


@dataclass(frozen=True)
class KeyInfo:
    """One config key: ``key`` (dotted), ``type`` (as written for a user), ``default`` and ``meaning``."""

    key: str
    type: str
    default: Any
    meaning: str


@dataclass(frozen=True)
class PresetInfo:
    """A shipped preset: its ``name``, one-line ``description`` and what it ``trains``."""

    name: str
    description: str
    trains: str


def _type_name(tp: Any) -> str:
    if get_origin(tp) is Union:
        inner = [a for a in get_args(tp) if a is not type(None)]
        return f"{' | '.join(_type_name(a) for a in inner)} or null"
    if get_origin(tp) in (tuple, typing.Tuple):
        return "[" + ", ".join(_type_name(a) for a in get_args(tp)) + "]"
    return getattr(tp, "__name__", str(tp))


@lru_cache(maxsize=1)
def _comments() -> dict[tuple[str, str], str]:
    """(class name, field name) -> the field's comment in config.py."""
    source = resources.files("ganforge").joinpath("config.py").read_text(encoding="utf-8")
    by_line = {tok.start[0]: tok.string.lstrip("#").strip()
               for tok in tokenize.generate_tokens(io.StringIO(source).readline) if tok.type == tokenize.COMMENT}
    lines = source.splitlines()
    out = {}
    for cls in ast.parse(source).body:
        if not isinstance(cls, ast.ClassDef):
            continue
        for node in cls.body:
            if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
                text = by_line.get(node.end_lineno)
                if text is None:  # comment lines right above the field
                    above, i = [], node.lineno - 1
                    while i >= 1 and lines[i - 1].strip().startswith("#"):
                        above.insert(0, by_line.get(i, ""))
                        i -= 1
                    text = " ".join(above)
                out[(cls.name, node.target.id)] = text
    return out


def _default(f) -> Any:
    if f.default is not MISSING:
        return f.default
    if f.default_factory is not MISSING:
        return f.default_factory()
    return None


def _walk(tp: type, prefix: str) -> list[KeyInfo]:
    out: list[KeyInfo] = []
    hints = get_type_hints(tp)
    notes = _comments()
    for f in fields(tp):
        ftp, key = hints[f.name], f"{prefix}{f.name}"
        if is_dataclass(ftp):
            out += _walk(ftp, f"{key}.")
        elif get_origin(ftp) in (dict, typing.Dict):
            value_tp = get_args(ftp)[1]
            out += _walk(value_tp, f"{key}.NAME.") if is_dataclass(value_tp) else \
                [KeyInfo(f"{key}.NAME", _type_name(value_tp), None, notes.get((tp.__name__, f.name), ""))]
        else:
            default = _default(f)
            out.append(KeyInfo(key, _type_name(ftp), list(default) if isinstance(default, tuple) else default,
                               notes.get((tp.__name__, f.name), "")))
    return out


def config_keys(section: Optional[str] = None) -> list[KeyInfo]:
    """Every config key (or those of ``section``: data, model, loss, ...) with its type,
    default and meaning, in the dataclasses' order."""
    keys = _walk(Config, "")
    if section is None:
        return keys
    sections = [f.name for f in fields(Config)]
    if section not in sections:
        raise GanforgeError(f"keys {section}: no such section; choose one of {', '.join(sections)}")
    return [k for k in keys if k.key.split(".")[0] == section]


def _description(text: str, name: str) -> str:
    """The first sentence of a preset file's leading comment, without its ``name:`` prefix."""
    comment = []
    for line in text.splitlines():
        if not line.startswith("#"):
            break
        comment.append(line.lstrip("#").strip())
    words = " ".join(comment)
    words = re.sub(rf"^{re.escape(name)}\s*:\s*", "", words)
    first = re.split(r"(?<=[.!?])\s+(?=[A-Z])", words, maxsplit=1)[0]
    return first or "(no description in the preset file)"


def _trains(cfg: Config) -> str:
    from .data.kinds import dataset_kind

    d, m = cfg.data, cfg.model
    data = f"{d.name}" + (f" at {d.resolution}x{d.resolution}" if dataset_kind(d.name).pixels else "")
    cond = ", conditional" if m.conditional else ""
    return f"{m.name} on {data}{cond}, loss {cfg.loss.name}, {cfg.train.steps} steps of batch {cfg.train.batch_size}"


def presets() -> list[PresetInfo]:
    """Every shipped preset with the first sentence of its own comment and what it trains."""
    out = []
    for name in preset_names():
        text = resources.files("ganforge").joinpath("presets", f"{name}.yaml").read_text(encoding="utf-8")
        out.append(PresetInfo(name, _description(text, name), _trains(load_config(name))))
    return out


__all__ = ["KeyInfo", "PresetInfo", "config_keys", "presets"]
