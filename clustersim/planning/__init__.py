"""Planning: many runs of one scenario, and the answers built on them.

Owns the executors that run simulations in parallel (``executor``: a local process pool by
default, Dask when asked), the run store that keeps each finished run and reuses it
(``runs``), replications with confidence intervals (``replications``), parameter sweeps
(``sweep``, ``sweep_report``), targets such as ``wait_s.p90 <= 2h`` (``targets``) and the
search for the smallest fleet or latest order date that meets them (``plan``).

May import: ``report`` (formatting and figures for the sweep and plan pages), ``engine``,
``workload``, ``results``, ``config`` and the ground floor. Never imports ``cli``.
"""
