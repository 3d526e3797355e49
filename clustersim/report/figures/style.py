"""One look for every report figure: size, fonts, colours, and the drawing helpers.

Figures are drawn with ``matplotlib.figure.Figure`` straight onto the Agg canvas rather than
through pyplot: that needs no display, keeps no global figure registry (no leaks when a
caller builds many reports) and does not switch the backend of a caller that has pyplot open
(a notebook, say). matplotlib is imported inside the functions.
"""

from __future__ import annotations

import contextvars
import functools
import io
from typing import Any

DAY_S = 86400.0
HOUR_S = 3600.0

# Readable on a slide at 9 x 4.5 in.
FIGSIZE = (9.0, 4.5)
DPI = 120
STYLE: dict[str, Any] = {
    "font.size": 11,
    "axes.titlesize": 14,
    "axes.titleweight": "bold",
    "axes.labelsize": 12,
    "xtick.labelsize": 11,
    "ytick.labelsize": 11,
    "legend.fontsize": 10,
    "legend.framealpha": 0.9,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "lines.linewidth": 1.6,
}
MAIN = "#1f77b4"  # the measured quantity
MEAN = "#ff7f0e"  # reference values computed from it
TARGET = "#d62728"  # the planner's target
WARMUP = "#7f7f7f"

# Human tick labels for a log axis in hours.
WAIT_TICKS = [
    (1 / HOUR_S, "1 s"),
    (10 / HOUR_S, "10 s"),
    (1 / 60, "1 min"),
    (10 / 60, "10 min"),
    (1.0, "1 h"),
    (6.0, "6 h"),
    (24.0, "1 d"),
    (24.0 * 7, "1 w"),
    (24.0 * 30, "30 d"),
    (24.0 * 365, "1 y"),
]


DRAWERS: contextvars.ContextVar[Any] = contextvars.ContextVar("DRAWERS", default=None)
"""Worker processes that draw for this context (``figures.workers.Drawers``); None: draw here."""


def draw_here(func, args, kwargs):
    """Call the drawing function ``func`` in this process, with ``STYLE`` in force."""
    import matplotlib

    with matplotlib.rc_context(STYLE):
        return func(*args, **kwargs)


def styled(func):
    """Run a drawing function with ``STYLE`` in force for every artist, tick and save; inside
    ``Drawers.turn()`` the call is handed to one of its worker processes."""

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        drawers = DRAWERS.get()
        if drawers is not None:
            return drawers.draw(func, args, kwargs)
        return draw_here(func, args, kwargs)

    return wrapper


def load_drawing_modules() -> None:
    """Import what drawing and saving a figure needs: matplotlib's figure, the Agg canvas and
    the PNG writer (a drawing worker does this first, while its caller reads the run)."""
    import matplotlib.backends.backend_agg  # noqa: F401
    import matplotlib.figure  # noqa: F401
    from PIL import PngImagePlugin  # noqa: F401


def new_figure(nrows: int = 1):
    """A slide-sized figure and its ``nrows`` axes, stacked and sharing x."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=FIGSIZE, dpi=DPI, layout="constrained")
    return fig, list(fig.subplots(nrows, 1, sharex=True, squeeze=False)[:, 0])


def png_bytes(fig) -> bytes:
    """The figure as PNG bytes, the same for the same figure whatever matplotlib version."""
    buf = io.BytesIO()
    # No "Software" tag: the same run gives the same bytes whatever matplotlib version.
    fig.savefig(buf, format="png", dpi=DPI, metadata={"Software": None})
    return buf.getvalue()


def time_axis(ax, horizon: float, warmup: float) -> None:
    """An x axis in days over the run, with the warm-up shaded."""
    ax.set_xlim(0, horizon / DAY_S)
    if warmup > 0:
        ax.axvspan(0, warmup / DAY_S, color=WARMUP, alpha=0.15, lw=0, label="warm-up")


def null_locator():
    """A locator that draws no ticks (for minor ticks on log axes)."""
    from matplotlib.ticker import NullLocator

    return NullLocator()
