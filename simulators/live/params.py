"""The live run's knobs: how riders behave and how the run is shaped, validated once."""

from __future__ import annotations

from dataclasses import dataclass

DEFAULT_DRAIN_SIM_S = 75 * 60.0


@dataclass(frozen=True)
class AgentParams:
    """A rider's habits, in simulated seconds."""

    fix_every_s: float = 20.0
    gps_noise_m: float = 6.0
    pickup_dwell_s: float = 90.0
    dropoff_dwell_s: float = 90.0
    think_s: tuple[float, float] = (2.0, 15.0)
    dropouts_per_hour: float = 0.5
    offline_s: tuple[float, float] = (5.0, 60.0)

    def __post_init__(self) -> None:
        if not self.fix_every_s > 0 or self.gps_noise_m < 0:
            raise ValueError("fix_every_s must be > 0 and gps_noise_m >= 0")
        if min(self.pickup_dwell_s, self.dropoff_dwell_s, self.dropouts_per_hour) < 0:
            raise ValueError("dwell times and dropouts_per_hour must be >= 0")
        for low, high in (self.think_s, self.offline_s):
            if not 0 <= low <= high:
                raise ValueError("think_s and offline_s must be (low, high) with 0 <= low <= high")


@dataclass(frozen=True)
class LiveParams:
    """How a live run is played against the service.

    `speed` simulated seconds pass per wall second. The service works in real time, so
    riders move `speed` times faster than in life and every promise is `speed` times
    tighter in wall time; durations in the report are converted back to simulated time.
    Fix cadence and drop-outs are set in wall seconds (`fix_every_wall_s`,
    `max_offline_wall_s`) because the service's freshness and grace timers are.

    The optimizer estimates travel at real speeds; told promises `speed` times tighter,
    it would judge every order hopelessly late and weigh lateness over everything else
    (before the optimizer's starvation fix it never assigned long trips). So by default
    (`stretch_promises`) the service is told the promised duration in real seconds from
    placement, the scale of its own model; ready times stay on the simulated clock (the
    food really is ready then), and the report judges lateness on the simulated clock.
    """

    speed: float = 10.0
    fix_every_wall_s: float = 5.0
    connect_per_s: float = 100.0
    max_offline_wall_s: float = 15.0
    drain_wall_s: float | None = None  # default: 75 simulated minutes (at least 30 s)
    order_concurrency: int = 32
    stretch_promises: bool = True
    agent: AgentParams = AgentParams()

    def __post_init__(self) -> None:
        if not self.speed > 0 or not self.fix_every_wall_s > 0 or not self.connect_per_s > 0:
            raise ValueError("speed, fix_every_wall_s and connect_per_s must be > 0")
        if self.max_offline_wall_s < 0 or (self.drain_wall_s or 0) < 0 or (
                self.order_concurrency < 1):
            raise ValueError("max_offline_wall_s and drain_wall_s must be >= 0, "
                             "order_concurrency >= 1")

    def drain_s(self) -> float:
        """Wall seconds to let open orders finish after the last one is placed."""
        if self.drain_wall_s is not None:
            return self.drain_wall_s
        return max(30.0, DEFAULT_DRAIN_SIM_S / self.speed)

    def agent_params(self) -> AgentParams:
        """The riders' habits with the fix cadence and drop-out length in simulated time."""
        low, high = self.agent.offline_s
        cap = self.max_offline_wall_s * self.speed
        return AgentParams(
            fix_every_s=self.fix_every_wall_s * self.speed, gps_noise_m=self.agent.gps_noise_m,
            pickup_dwell_s=self.agent.pickup_dwell_s, dropoff_dwell_s=self.agent.dropoff_dwell_s,
            think_s=self.agent.think_s, dropouts_per_hour=self.agent.dropouts_per_hour,
            offline_s=(min(low, cap), min(high, cap)))
