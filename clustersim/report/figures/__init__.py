"""Figures for the run report: plain numpy arrays in, PNG bytes out, one module per topic.

``style`` holds the shared look and drawing helpers; ``core``, ``failures``, ``supply``,
``services`` and ``power`` the figures of the matching sections; ``workers`` the processes
that draw them while the report's builder reads the run. Nothing here reads or writes files,
and numpy and matplotlib are imported inside the functions so that imports stay cheap.
"""
