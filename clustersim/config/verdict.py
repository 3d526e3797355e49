"""What the report's verdict and ``by_class.*`` plan targets count as a class that matters."""

from __future__ import annotations

from pydantic import Field

from clustersim.config.base import Frozen, Share


class VerdictConfig(Frozen):
    """A class holding at least ``heavy_share`` of the GPU-hours must meet the wait target on
    its own: the report's verdict fails when one does not, and a plan's ``by_class.*.``
    targets apply to each such class."""

    heavy_share: Share = Field(
        0.10,
        ge=0,
        le=1,
        description="share of GPU-hours (GPUs x duration of jobs submitted after warm-up) from which a "
        "class must meet the wait target on its own (10% or 0.1; 0: every class)",
    )
