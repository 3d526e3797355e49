"""Results: what a run produces and how it is kept.

Owns the table columns (``columns``), the recorder and job log that fill them during a run
(``recorder``), the summaries computed from the tables alone (``summary``, ``costs``), the
``RunResult`` type (``result``) and run-directory I/O with atomic writes (``rundir``).

May import: ``config`` and the ground floor. Never imports the engine, the workload, the
report, planning or the CLI.
"""
