"""``ganforge board [RUNS_DIR]``: serve the local web page of a folder's runs until Ctrl-C."""

from __future__ import annotations


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
