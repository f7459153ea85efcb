"""The HPA algorithm of the rehearsal, against the controller's documented behaviour, with the
bundle's own HPA (the base HPA with the prometheus-adapter component's metrics)."""

from __future__ import annotations

from harness.autoscale import bundle_hpa
from harness.autoscale_hpa import Controller, Spec, from_metric, quantity


def spec() -> Spec:
    return Spec.from_hpa(bundle_hpa())


def test_the_bundle_hpa_is_read_with_its_target_and_behaviour() -> None:
    s = spec()
    assert s.metric == "mlapi_inflight_requests" and s.target == quantity("2400m") == 2.4
    assert (s.min_replicas, s.max_replicas) == (2, 10)
    assert (s.up.window_s, s.down.window_s) == (0, 300)
    scaled = Spec.from_hpa(bundle_hpa(), time_scale=0.1)
    assert scaled.down.window_s == 30 and scaled.up.policies[0].period_s == 1.5


def test_ratio_within_the_tolerance_changes_nothing() -> None:
    assert from_metric(4, [5.0] * 4, 0, 4.7) == 4  # ratio 1.06
    assert from_metric(4, [6.0] * 4, 0, 4.7) == 6  # ceil(4 x 1.28) = 6
    assert from_metric(4, [1.0] * 4, 0, 4.7) == 1


def test_pods_without_a_metric_count_as_zero_on_a_scale_up() -> None:
    # two report 9.4 (ratio 2), two are starting: ratio (9.4 + 9.4 + 0 + 0) / 4 / 4.7 = 1.
    assert from_metric(4, [9.4, 9.4], 2, 4.7) == 4
    assert from_metric(4, [14.1, 14.1], 2, 4.7) == 6  # ratio 1.5 over four pods


def test_scale_up_follows_the_policies_per_period() -> None:
    controller = Controller(spec())
    assert controller.decide(0, 2, [47.0, 47.0], 0) == 4  # 100% or 2 pods per 15 s: 4
    assert controller.decide(10, 4, [47.0] * 4, 0) == 4  # the same period: no more
    assert controller.decide(16, 4, [47.0] * 4, 0) == 8  # a new period: double again
    assert controller.decide(32, 8, [47.0] * 8, 0) == 10  # maxReplicas


def test_scale_down_waits_for_its_window_then_one_pod_a_minute() -> None:
    controller = Controller(spec())
    assert controller.decide(0, 6, [2.4] * 6, 0) == 6
    for t in range(15, 300, 15):  # load gone, but a recommendation of 6 is in the window
        assert controller.decide(t, 6, [0.1] * 6, 0) == 6
    assert controller.decide(301, 6, [0.1] * 6, 0) == 5
    assert controller.decide(330, 5, [0.1] * 5, 0) == 5  # one pod per 60 s
    assert controller.decide(362, 5, [0.1] * 5, 0) == 4
