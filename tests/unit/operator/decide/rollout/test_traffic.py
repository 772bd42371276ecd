"""Requested weights into pods and route weights; achieved weights from ready pods."""

from __future__ import annotations

from dataclasses import replace

import pytest
from vigia_operator.decide.rollout.traffic import (
    achieved_weight,
    canary_pods,
    canary_replicas,
    following_replicas,
    shrink,
    split_traffic,
)

from tests.unit.operator.decide.rollout.helpers import V1, V2, observed, started


@pytest.mark.parametrize(("weight", "replicas", "pods"), [
    (10, 4, 1), (25, 4, 1), (50, 4, 2), (60, 4, 2), (75, 4, 3), (100, 4, 4),
    (10, 1, 1), (50, 10, 5), (1, 100, 1),
])
def test_replicas_router_sizes_the_canary_by_the_weight(weight, replicas, pods) -> None:
    assert canary_replicas(weight, replicas, "Replicas") == pods


def test_gateway_router_gives_the_canary_capacity_for_its_share() -> None:
    assert canary_replicas(10, 4, "GatewayAPI") == 1
    assert canary_replicas(60, 4, "GatewayAPI") == 3


@pytest.mark.parametrize(("canary", "stable", "weight"), [
    (1, 3, 25), (2, 2, 50), (1, 1, 50), (0, 4, 0), (0, 0, 0), (1, 9, 10)])
def test_achieved_weight_is_the_share_of_ready_pods(canary, stable, weight) -> None:
    assert achieved_weight("Replicas", 10, canary, stable) == weight


def test_gateway_weight_is_zero_until_a_canary_pod_is_ready() -> None:
    assert achieved_weight("GatewayAPI", 10, 0, 4) == 0
    assert achieved_weight("GatewayAPI", 10, 1, 4) == 10


def test_shrink_keeps_only_what_the_stable_lacks() -> None:
    assert [shrink(2, 4, ready) for ready in (0, 2, 3, 4)] == [2, 2, 1, 0]


def test_stable_gives_up_only_the_pods_the_canary_has_ready() -> None:
    canary = replace(started(), canary_replicas=2, weight=50)
    waiting = split_traffic("Replicas", 4, V1, canary, observed(canary_ready=0))
    assert (waiting.stable_replicas, waiting.canary_replicas) == (4, 2)
    half = split_traffic("Replicas", 4, V1, canary, observed(stable_ready=4, canary_ready=1))
    assert (half.stable_replicas, half.canary_replicas) == (3, 2)
    full = split_traffic("Replicas", 4, V1, canary, observed(stable_ready=3, canary_ready=2))
    assert full.stable_replicas == 2 and full.canary_version == V2


def test_the_stable_holds_its_size_while_a_deployment_status_is_stale() -> None:
    # The canary was just scaled to 2: its status still says 0 ready until observed.
    canary = replace(started(), canary_replicas=2, weight=50, achieved_weight=25)
    stale = observed(stable_ready=0, canary_ready=0, settled=False, stable_desired=3)
    held = split_traffic("Replicas", 4, V1, canary, stale)
    assert (held.stable_replicas, held.canary_replicas) == (3, 2)
    gateway = split_traffic("GatewayAPI", 4, V1, canary, stale)
    assert gateway.route_canary_weight == 50  # the canary served last tick


def test_a_single_replica_stable_is_never_scaled_to_zero() -> None:
    canary = started(replicas=1)
    p = split_traffic("Replicas", 1, V1, canary, observed(stable_ready=1, canary_ready=1))
    assert (p.stable_replicas, p.canary_replicas) == (1, 1)


def test_gateway_route_weights_follow_the_ready_canary() -> None:
    canary = started()
    none_ready = split_traffic("GatewayAPI", 4, V1, canary, observed(canary_ready=0))
    assert (none_ready.route_canary_weight, none_ready.route_stable_weight) == (0, 100)
    ready = split_traffic("GatewayAPI", 4, V1, canary, observed(canary_ready=1))
    assert (ready.route_canary_weight, ready.stable_replicas) == (10, 4)


def test_rolling_back_sends_the_canary_no_route_traffic() -> None:
    canary = replace(started(), phase="RollingBack", weight=0, canary_replicas=1)
    p = split_traffic("GatewayAPI", 4, V1, canary, observed(canary_ready=1))
    assert (p.route_canary_weight, p.stable_replicas, p.canary_replicas) == (0, 4, 1)


def test_no_canary_means_the_stable_alone() -> None:
    p = split_traffic("Replicas", 3, V1, None, observed())
    assert (p.stable_replicas, p.canary_version, p.canary_replicas) == (3, None, 0)


@pytest.mark.parametrize("stable", [1, 2, 3, 4, 5, 7, 10, 13, 20])
@pytest.mark.parametrize("weight", [5, 10, 25, 33, 50, 60, 75, 90])
def test_beside_an_autoscaled_stable_the_split_is_within_one_pod_of_the_weight(
        weight, stable) -> None:
    pods = following_replicas(weight, stable, "Replicas", ceiling=1000)
    ideal = weight * stable / (100 - weight)  # canary pods giving exactly the weight
    # Rounded (less than one pod off), but never below one pod.
    assert pods == max(1, round(ideal)) or abs(pods - ideal) == 0.5
    assert abs(pods - ideal) < 1 or (pods == 1 and ideal < 1)


def test_the_following_canary_stays_within_max_replicas() -> None:
    assert following_replicas(90, 4, "Replicas", ceiling=5) == 5
    assert following_replicas(50, 4, "GatewayAPI", ceiling=5) == 2  # capacity of its share


def test_an_autoscaled_stable_keeps_its_count_and_the_canary_follows_it() -> None:
    canary = replace(started(), weight=50, canary_replicas=2)
    # The HPA has scaled the stable from 4 to 6: the canary follows to 6, the stable keeps 6.
    plan = split_traffic("Replicas", 6, V1, canary, observed(stable_ready=6, canary_ready=2),
                         ceiling=10)
    assert (plan.stable_replicas, plan.canary_replicas) == (6, 6)
    fixed = split_traffic("Replicas", 6, V1, canary, observed(stable_ready=6, canary_ready=2))
    assert fixed.stable_replicas == 4  # fixed count: the stable gives up the canary's pods
    assert canary_pods(50, 6, "Replicas", None) == 3
    assert canary_pods(50, 6, "Replicas", 10) == 6
