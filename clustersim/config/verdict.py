"""What the report's verdict and ``by_class.*`` plan targets count as a class that matters."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BeforeValidator, Field

from clustersim.config.base import Frozen


def _share(value: Any) -> Any:
    if isinstance(value, str):
        text = value.strip()
        try:
            return float(text[:-1]) / 100.0 if text.endswith("%") else float(text)
        except ValueError:
            raise ValueError(f"expected a share such as 10% or 0.1, got {value!r}") from None
    return value


class VerdictConfig(Frozen):
    """A class holding at least ``heavy_share`` of the GPU-hours must meet the wait target on
    its own: the report's verdict fails when one does not, and a plan's ``by_class.*.``
    targets apply to each such class."""

    heavy_share: Annotated[float, BeforeValidator(_share)] = Field(
        0.10,
        ge=0,
        le=1,
        description="share of GPU-hours (GPUs x duration of jobs submitted after warm-up) from which a "
        "class must meet the wait target on its own (10% or 0.1; 0: every class)",
    )
