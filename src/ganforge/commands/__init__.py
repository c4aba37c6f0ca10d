"""The command line's handlers, one module per command: ``run(args) -> int`` (the exit code).

``ganforge.cli`` parses the arguments and imports the handler of the command it was given
only then, so that ``ganforge presets`` or a bad argument answers at once, without importing
torch. A handler calls the public API (``ganforge.api``) and prints what it returns; it holds
no logic of its own beyond checking its arguments and formatting output.
"""
