"""MkDocs hook: pages generated at build time from ganforge's own sources of truth.

- ``reference/cli.md``: every command and its arguments, walked from the argparse parser that
  ``ganforge`` itself parses with (``ganforge.cli.build_parser()``);
- ``reference/config.md``: every config key with its type, default and meaning, and every
  preset, from ``ganforge.discover`` (what ``ganforge keys`` and ``ganforge presets`` print);
- ``results/``: the benchmark results (``benchmarks/results/*.md`` and their figures), so that
  the pages can link them and ``mkdocs build --strict`` checks those links.

Nothing here imports torch: the CLI and discover modules do not.
"""

from __future__ import annotations

import argparse
import html
import re
import sys
from pathlib import Path

from mkdocs.structure.files import File

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT / "src") not in sys.path:  # build this checkout's ganforge, not another installed copy
    sys.path.insert(0, str(ROOT / "src"))

RESULTS = ROOT / "benchmarks" / "results"
WIDTH = 80  # usage lines are wrapped at this width, whatever the terminal (the page fits about 85)


def _cell(text) -> str:
    """Text safe inside a Markdown table cell."""
    return html.escape(" ".join(str(text).split()), quote=False).replace("|", "\\|")


def _code(text) -> str:
    text = str(text).replace("|", "\\|")
    return f"`{text}`" if "`" not in text else _cell(text)


def root_parser() -> argparse.ArgumentParser:
    """ganforge's parser: ``ganforge.cli.build_parser()``, the one ``main`` parses with."""
    from ganforge.cli import build_parser

    return build_parser()


def _subcommands(parser: argparse.ArgumentParser) -> list[tuple[str, str, argparse.ArgumentParser]]:
    """(name, one-line help, parser) of each sub-command, in the order ``--help`` lists them."""
    out = []
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            helps = {a.dest: a.help or "" for a in action._choices_actions}
            seen = set()
            for name, sub in action.choices.items():
                if id(sub) not in seen:  # aliases share a parser
                    seen.add(id(sub))
                    out.append((name, helps.get(name, ""), sub))
    return out


def _usage(parser: argparse.ArgumentParser) -> str:
    fmt = parser.formatter_class(prog=parser.prog, width=WIDTH)
    fmt.add_usage(parser.usage, parser._actions, parser._mutually_exclusive_groups)
    return fmt.format_help().strip()


def _arguments(parser: argparse.ArgumentParser) -> list[str]:
    rows = []
    for a in parser._actions:
        if isinstance(a, (argparse._HelpAction, argparse._SubParsersAction)) or a.help == argparse.SUPPRESS:
            continue
        if a.option_strings:
            names = ", ".join(a.option_strings)
            if a.nargs != 0:
                names += " " + (a.metavar or a.dest.upper())
        else:
            names = a.metavar or a.dest
            if a.nargs in ("*", "+"):
                names += " ..."
        what = a.help or ""
        if a.choices and not isinstance(a, argparse._SubParsersAction):
            what += f" (one of: {', '.join(map(str, a.choices))})"
        default = "" if a.default in (None, False, argparse.SUPPRESS) or a.nargs == 0 else _code(a.default)
        optional_positional = not a.option_strings and a.nargs in ("*", "?")  # argparse marks these required
        required = "yes" if a.required and not optional_positional else ""
        rows.append(f"| {_code(names)} | {_cell(what)} | {default} | {required} |")
    if not rows:
        return []
    return ["| argument | meaning | default | required |", "|---|---|---|---|", *rows, ""]


def _command_section(name: str, brief: str, parser: argparse.ArgumentParser, level: int) -> list[str]:
    lines = [f"{'#' * level} {parser.prog}", ""]
    text = parser.description or brief
    if text:
        lines += [_cell(text), ""]
    lines += ["```text", _usage(parser), "```", ""]
    lines += _arguments(parser)
    if parser.epilog:
        lines += [_cell(parser.epilog), ""]
    for sub_name, sub_brief, sub in _subcommands(parser):
        lines += _command_section(sub_name, sub_brief, sub, level + 1)
    return lines


def cli_reference() -> str:
    parser = root_parser()
    commands = _subcommands(parser)
    lines = [
        "# Command line reference",
        "",
        "Generated at build time from the parser that `ganforge` parses with "
        "(`ganforge.cli.build_parser()`), so it lists exactly what the installed version accepts; "
        "`ganforge COMMAND --help` prints the same. `key=value` overrides are the "
        "[configuration keys](config.md).",
        "",
        "```text",
        _usage(parser),
        "```",
        "",
        "| command | what it does |",
        "|---|---|",
        *[f"| [`{name}`](#{_anchor(sub.prog)}) | {_cell(brief)} |" for name, brief, sub in commands],
        "",
    ]
    for name, brief, sub in commands:
        lines += _command_section(name, brief, sub, 2)
    return "\n".join(lines)


def _anchor(title: str) -> str:
    """The id Python-Markdown's toc gives a heading ``title`` (lowercase, spaces to dashes)."""
    return "-".join(title.lower().split())


def config_reference() -> str:
    from ganforge.discover import config_keys, presets

    lines = [
        "# Configuration keys",
        "",
        "Generated at build time from the dataclasses in `ganforge/config.py`, as "
        "`ganforge keys [SECTION]` prints them: each key's type, default and the comment on its "
        "field. Set any of them as `key=value` after `ganforge train` (or in `overrides=` of "
        "`ganforge.train`); a preset (below) sets several at once. How they are resolved is in "
        "[Configuration](../usage/configuration.md).",
        "",
    ]
    keys = config_keys()
    sections = list(dict.fromkeys(k.key.split(".")[0] for k in keys))
    lines += ["Sections: " + ", ".join(f"[`{s}`](#{s})" for s in sections) + ", [presets](#presets).", ""]
    for section in sections:
        lines += [f"## {section}", "", "| key | type | default | meaning |", "|---|---|---|---|"]
        for k in keys:
            if k.key.split(".")[0] == section:
                default = "" if k.default is None else _code(k.default)
                lines.append(f"| {_code(k.key)} | {_cell(k.type)} | {default} | {_cell(k.meaning)} |")
        lines.append("")
    lines += ["## presets", "", "`ganforge train --preset NAME`; `ganforge presets` prints the same.", "",
              "| preset | what it is for | what it trains |", "|---|---|---|"]
    lines += [f"| `{p.name}` | {_cell(p.description)} | {_cell(p.trains)} |" for p in presets()]
    return "\n".join(lines) + "\n"


def results_index(names: list[str]) -> str:
    lines = ["# Benchmark results", "",
             "Each file is written by its script under `benchmarks/` (see [Benchmarks](../benchmarks.md)) "
             "and copied here as it is in the repository, `benchmarks/results/`.", ""]
    lines += [f"- [{n}]({n})" for n in names]
    return "\n".join(lines) + "\n"


# Sphinx roles in ganforge's docstrings (:func:`train`) that mkdocstrings renders as text followed
# by the code: the role's name is dropped, the code stays.
_ROLE = re.compile(r":(?:func|class|meth|mod|attr|data|exc|obj):(?=<code>)")


def module_index() -> str:
    """Every module of the package with the first line of its docstring, read from the source
    (no import): the layout page's list cannot leave a module out or name one that is gone."""
    import ast

    src = Path(__file__).resolve().parents[1] / "src" / "ganforge"
    rows = ["# Every module", "",
            "Generated at build time from the source: each module of `src/ganforge/` with the first "
            "line of its docstring. The [layout](../development/layout.md) page says how they fit "
            "together.", "", "| module | what it holds |", "|---|---|"]
    for path in sorted(src.rglob("*.py")):
        rel = path.relative_to(src).as_posix()
        doc = ast.get_docstring(ast.parse(path.read_text(encoding="utf-8"))) or ""
        first = " ".join(doc.strip().split("\n\n")[0].split())
        rows.append(f"| `{rel}` | {_cell(first) or '(no docstring)'} |")
    return "\n".join(rows) + "\n"


def on_page_content(html_text, page, config, files):
    return _ROLE.sub("", html_text)


def on_files(files, config):
    files.append(File.generated(config, "reference/cli.md", content=cli_reference()))
    files.append(File.generated(config, "reference/config.md", content=config_reference()))
    files.append(File.generated(config, "reference/modules.md", content=module_index()))
    results = sorted(p for p in RESULTS.glob("*") if p.suffix in (".md", ".png"))
    for path in results:
        files.append(File.generated(config, f"results/{path.name}", abs_src_path=str(path)))
    files.append(File.generated(config, "results/index.md",
                                content=results_index([p.name for p in results if p.suffix == ".md"])))
    return files
