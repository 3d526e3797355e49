"""The run report: reads a run directory and writes report.md, report.html and figures.

Owns reading run directories (never the simulator: it never imports ``clustersim.engine``,
``clustersim.cli`` or ``clustersim.planning``); it may import ``clustersim.results``,
``clustersim.config``, ``clustersim.checkpoint``, ``clustersim.units`` and
``clustersim.errors``. Layers, each importing only those before it: ``format`` → ``model`` →
``files``, ``series``, ``html`` → ``analysis``, ``figures`` → ``sections`` → ``build``.
Entry point: ``clustersim.report.build.build_report(run_dir)``.
"""
