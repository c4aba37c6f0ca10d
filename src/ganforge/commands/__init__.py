"""The command line's commands, one module per command: ``HELP`` (with ``DESCRIPTION`` and
``EPILOG`` where wanted), ``add_arguments(parser)`` and ``run(args) -> int`` (the exit code).

``ganforge.cli`` builds its parser from these modules and calls the handler of the command it
was given. The modules import torch and the API only inside ``run``, so that ``ganforge presets``
or a bad argument answers at once. A handler calls the public API (``ganforge.api``) and prints
what it returns; it holds no logic of its own beyond formatting output.
"""
