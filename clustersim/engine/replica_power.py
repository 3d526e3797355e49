"""Power-capped inference replicas (``mode: capping`` with ``power.capping.inference``; config:
``config.capping``): the replicas' one power limit, the watts they shed, the throughput they
lose, and how the excess over the cap is shared between them and training.

Every placed replica GPU (starting or ready, all services) runs at one limit ``f``, a point of
the inference curve: a capped replica draws ``f x inference_w`` a GPU and serves at
``speed(f)`` times its throughput (``engine.inference``: served demand, the autoscaler and the
latency model follow the speed). One limit for all keeps a service's replicas alike, as a load
balancer needs, and a few points keep the latency model to a few profiles. The watts shed are
worked out from the replica GPUs placed at each row, so a replica placed while they are capped
runs capped at once; a starting replica's start-up is not slowed (model load is I/O-bound).

Sharing the excess (``throttle_with_replicas``): with ``inference_order: last`` replicas shed
only what training cannot at its lowest limit, with ``first`` before any training job. They
drop to the highest point that sheds what is asked of them (possibly more) and training sheds
what is left, in its own order (``power_modes.throttle``). The gate books every replica at its
lowest limit (``config.power.PowerConfig.replica_booked_w``), so the excess can always be shed
and the cap is never exceeded; with ``last`` this is what lets more training start.

Replica GPUs are not in ``throttled_gpus`` (training GPUs): the timeseries gains
``throttled_replica_gpus``, and ``power_shed_w`` holds the watts of both.
"""

from __future__ import annotations

from clustersim.engine.power_modes import throttle


class ReplicaPower:
    """The replicas' power limit ``f`` (a fraction of ``inference_w``) and its books, for
    ``engine.capped_power.CappedPower`` (``power``: its inference component, replica GPU type, config)."""

    def __init__(self, power):
        self.env = power.env
        self.inference = power.inference
        self.watts = power.gpu.replica_w
        self.curve = power.cfg.capping
        self.f = 1.0
        self._t = 0.0
        self._loss = 0.0  # capped replica GPUs x (1 - their speed), since _t
        self._lost = 0.0  # replica GPU-seconds of throughput lost so far

    def gpus(self) -> int:
        """GPUs of the replicas running power-capped now (all placed replicas, or none)."""
        return self.inference.gpus if self.f < 1.0 else 0

    def shed(self) -> float:
        """IT watts the replicas shed now."""
        return 0.0 if self.f == 1.0 else self.inference.gpus * self.watts * (1.0 - self.f)

    def allocate(self, running, excess_w: float, floor: float) -> tuple[dict, float]:
        """Training limits and the replicas' limit that shed ``excess_w`` (``running``: as
        ``throttle``'s jobs)."""
        return throttle_with_replicas(running, excess_w, floor, self.curve, self.inference.gpus * self.watts)

    def set(self, f: float) -> None:
        """Cap every replica at ``f``: the books, and the services at the new speed."""
        self.account()
        self.f = f
        self.account()
        self.inference.respeed(self.curve.inference_speed(f))

    def account(self) -> None:
        """Add the throughput lost since the last call, and take the rate from now on. Called at
        every row (a row follows every change of the replica GPUs) and when the limit changes."""
        now = self.env.now
        self._lost += self._loss * (now - self._t)
        self._t = now
        self._loss = self.gpus() * (1.0 - self.curve.inference_speed(self.f))

    def lost_gpu_s(self) -> float:
        """Replica GPU-seconds of throughput lost so far (GPU-seconds at full speed)."""
        self.account()
        return self._lost


def throttle_with_replicas(jobs, excess_w: float, floor: float, curve, replica_w: float) -> tuple[dict, float]:
    """Training limits (as ``throttle``) and the one limit of every replica GPU (a fraction of
    ``inference_w``: a point of ``curve.inference``, ``curve`` a ``CappingConfig``) that shed
    ``excess_w`` together; ``replica_w`` is the replicas' full draw. ``inference_order`` last:
    replicas shed only what training cannot at its lowest limit; first: replicas shed first.
    Replicas drop to the highest point that sheds what is asked of them (possibly more; the
    lowest if none does), and training sheds what is left. Returns ({job: fraction}, limit)."""
    if excess_w <= 0:
        return {}, 1.0
    if replica_w > 0:
        need = excess_w
        if curve.inference_order == "last":
            need -= sum(g * busy_w * (1.0 - floor) for _, g, _, busy_w in jobs)
        if need > 1e-6:  # (last: below a microwatt is float noise; the margin covers it)
            level = curve.inference_limit(need / replica_w)
            return throttle(jobs, excess_w - replica_w * (1.0 - level), floor, curve.order), level
    return throttle(jobs, excess_w, floor, curve.order), 1.0
