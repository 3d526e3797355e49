"""The engine: the only package that imports SimPy.

Owns the event core (``core``: the loop, arrivals, starts, completions, the hooks), the
cluster state (``cluster``), the wait queue (``queue``), the scheduling and placement
policies (``policies``), segment accounting (``segments``) and the components that plug into
the core through ``component.Component``: ``failures``, ``supply``, ``inference``.

May import: ``workload`` (job sources), ``results`` (recorder, job log, summaries), ``config``
and the ground floor. Never imports ``report``, ``planning`` or ``cli``, and nothing here
touches a file.
"""

from clustersim.engine.core import Engine, simulate

__all__ = ["Engine", "simulate"]
