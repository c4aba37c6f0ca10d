"""``ganforge board [RUNS_DIR]``: serve the local site of a folder's runs (cards, a sampler per run,
compared curves) until Ctrl-C."""

from __future__ import annotations


HELP = "a local site to try a folder's runs: sample grids and sparklines, a sampler per run, compared curves"


def add_arguments(p) -> None:
    p.add_argument("runs_dir", nargs="?", default="runs", metavar="RUNS_DIR", help="default: runs")
    p.add_argument("--port", type=int, default=8765)
    p.add_argument("--host", default="127.0.0.1", help="default 127.0.0.1: this machine only")


def run(args) -> int:
    from ..report.board import make_server

    server = make_server(args.runs_dir, args.port, args.host)
    host, port = server.server_address[:2]
    print(f"ganforge board: http://{host}:{port}/  (runs in {args.runs_dir}; Ctrl-C stops it)", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0
