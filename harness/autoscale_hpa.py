"""The HorizontalPodAutoscaler controller's documented algorithm, for one Pods metric.

As kube-controller-manager computes it (pkg/controller/podautoscaler: replica_calculator.go,
horizontal.go): desired = ceil(current x metric / target) over the pods that report the
metric, nothing while the ratio is within the tolerance (10%), pods without a metric yet
(starting) counted at 0 on a scale-up and at the target on a scale-down; then the
stabilization windows (a scale-up takes the lowest recommendation of its window, a scale-down
the highest of its own), then the scaling policies (replicas added or removed per period,
`selectPolicy` Max or Min), then min/max replicas. `time_scale` shrinks every window and
period for a short rehearsal.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

TOLERANCE = 0.1


@dataclass(frozen=True)
class Policy:
    kind: str  # Pods or Percent
    value: int
    period_s: float


@dataclass(frozen=True)
class Rules:
    window_s: float
    select: str  # Max, Min or Disabled
    policies: tuple[Policy, ...]


@dataclass(frozen=True)
class Spec:
    """What the algorithm reads from an autoscaling/v2 HPA with one Pods metric."""

    metric: str
    target: float
    min_replicas: int
    max_replicas: int
    up: Rules
    down: Rules

    @classmethod
    def from_hpa(cls, hpa: dict[str, Any], time_scale: float = 1.0) -> Spec:
        spec = hpa["spec"]
        pods = next(m["pods"] for m in spec["metrics"] if m["type"] == "Pods")
        behavior = spec.get("behavior", {})

        def rules(name: str, default_window: float) -> Rules:
            given = behavior.get(name, {})
            return Rules(
                window_s=given.get("stabilizationWindowSeconds", default_window) * time_scale,
                select=given.get("selectPolicy", "Max"),
                policies=tuple(
                    Policy(p["type"], int(p["value"]), p["periodSeconds"] * time_scale)
                    for p in given.get("policies", [])
                ),
            )

        return cls(
            metric=pods["metric"]["name"],
            target=quantity(pods["target"]["averageValue"]),
            min_replicas=int(spec.get("minReplicas", 1)),
            max_replicas=int(spec["maxReplicas"]),
            up=rules("scaleUp", 0),
            down=rules("scaleDown", 300),
        )


def quantity(value: str | int | float) -> float:
    """A Kubernetes quantity as a number: `4700m` -> 4.7."""
    text = str(value)
    return float(text[:-1]) / 1000 if text.endswith("m") else float(text)


def from_metric(current: int, values: list[float], missing: int, target: float) -> int:
    """The replicas the metric asks for: `values` of the pods that report it, `missing` pods
    that do not yet (replica_calculator.go, GetMetricReplicas)."""
    if not values:
        return current
    ratio = sum(values) / len(values) / target
    if not missing:
        return current if abs(1 - ratio) <= TOLERANCE else math.ceil(ratio * len(values))
    assumed = target if ratio < 1 else 0.0
    filled = values + [assumed] * missing
    new_ratio = sum(filled) / len(filled) / target
    if abs(1 - new_ratio) <= TOLERANCE or (ratio < 1) != (new_ratio < 1):
        return current
    desired = math.ceil(new_ratio * len(filled))
    if (new_ratio < 1 and desired > current) or (new_ratio > 1 and desired < current):
        return current
    return desired


@dataclass
class Controller:
    """Keeps the recommendations and scale events the windows and policies look back on."""

    spec: Spec
    recommendations: list[tuple[float, int]] = field(default_factory=list)
    events: list[tuple[float, int]] = field(default_factory=list)  # (time, +added / -removed)

    def _changed(self, now: float, period_s: float, sign: int) -> int:
        return sum(abs(n) for t, n in self.events if t > now - period_s and n * sign > 0)

    def _limit(self, now: float, current: int, rules: Rules, up: bool) -> int:
        if rules.select == "Disabled":
            return current
        proposals = []
        for policy in rules.policies:
            added = self._changed(now, policy.period_s, 1)
            removed = self._changed(now, policy.period_s, -1)
            start = current - added + removed
            if policy.kind == "Pods":
                proposals.append(start + policy.value if up else start - policy.value)
            elif up:
                proposals.append(math.ceil(start * (1 + policy.value / 100)))
            else:
                proposals.append(int(start * (1 - policy.value / 100)))
        if not proposals:
            return self.spec.max_replicas if up else self.spec.min_replicas
        most_change = max if up else min
        least_change = min if up else max
        return (least_change if rules.select == "Min" else most_change)(proposals)

    def decide(self, now: float, current: int, values: list[float], missing: int) -> int:
        """The replicas to run after one sync at `now` (seconds)."""
        spec = self.spec
        wanted = from_metric(current, values, missing, spec.target)
        up_rec = down_rec = wanted
        for at, value in self.recommendations:
            if at > now - spec.up.window_s:
                up_rec = min(up_rec, value)
            if at > now - spec.down.window_s:
                down_rec = max(down_rec, value)
        horizon = max(spec.up.window_s, spec.down.window_s)
        self.recommendations = [(t, v) for t, v in self.recommendations if t > now - horizon]
        self.recommendations.append((now, wanted))
        desired = min(max(current, up_rec), down_rec)
        if desired > current:
            limit = max(self._limit(now, current, spec.up, up=True), current)
            desired = min(desired, limit, spec.max_replicas)
        elif desired < current:
            limit = min(self._limit(now, current, spec.down, up=False), current)
            desired = max(desired, limit, spec.min_replicas)
        if desired != current:
            self.events.append((now, desired - current))
        return desired
