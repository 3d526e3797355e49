"""The command line: parses arguments, calls the layers below, renders results and errors.
No model logic lives here. One module per command group (``run``, ``replay``, ``scenario``,
``report``, ``plan``), ``common`` for what they share, ``app`` for the typer app.

May import every other package of clustersim; nothing imports it.
"""
