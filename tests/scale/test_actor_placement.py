"""Where a batch's actors go: each pinned (softly) to the node with the fewest actors per CPU,
so that every node takes part, in proportion to its CPUs, the same way every time."""

from __future__ import annotations

from collections import Counter

import pytest

from dure.scale.batch import ActorPlacement

pytest.importorskip("ray", reason="needs the extra dure[scale]")


NAMES = {"a": "a" * 56, "b": "b" * 56, "big": "c" * 56, "mid": "d" * 56, "small": "e" * 56}
NAMES |= {f"n{k}": f"{k}" * 56 for k in range(1, 4)}  # Ray node ids: 56 hex digits


def _placement(cpus: dict[str, float]) -> ActorPlacement:
    return ActorPlacement({NAMES[name]: n for name, n in cpus.items()})


def _nodes(placement: ActorPlacement, actors: int) -> list[str]:
    strategies = [placement()["scheduling_strategy"] for _ in range(actors)]
    assert all(s.soft for s in strategies)  # an actor whose node died restarts elsewhere
    by_id = {node_id: name for name, node_id in NAMES.items()}
    return [by_id[s.node_id] for s in strategies]


def test_two_actors_on_two_one_cpu_nodes_go_one_to_each() -> None:
    assert sorted(_nodes(_placement({"b": 1.0, "a": 1.0}), 2)) == ["a", "b"]


def test_actors_follow_the_nodes_cpus_and_never_pile_up() -> None:
    placed = _nodes(_placement({"big": 16.0, "small": 8.0, "mid": 8.0}), 32)
    assert Counter(placed) == {"big": 16, "small": 8, "mid": 8}
    first_three = set(placed[:3])
    assert first_three == {"big", "small", "mid"}  # every node has one before any has two


def test_the_same_cluster_gives_the_same_placement() -> None:
    nodes = {"n3": 2.0, "n1": 2.0, "n2": 2.0}
    assert _nodes(_placement(nodes), 5) == _nodes(_placement(dict(reversed(nodes.items()))), 5)


def test_a_cluster_without_a_node_for_actors_falls_back_to_spread() -> None:
    assert ActorPlacement({})() == {"scheduling_strategy": "SPREAD"}


def test_only_live_nodes_with_cpus_for_an_actor_are_used() -> None:
    class FakeRay:  # the shape of ray.nodes(): a head without CPUs, a dead node, a worker
        @staticmethod
        def nodes() -> list[dict]:
            return [
                {"NodeID": "head", "Alive": True, "Resources": {"memory": 1.0}},
                {"NodeID": "dead", "Alive": False, "Resources": {"CPU": 4.0}},
                {"NodeID": "tiny", "Alive": True, "Resources": {"CPU": 0.25}},
                {"NodeID": "w1", "Alive": True, "Resources": {"CPU": 2.0}},
            ]

    assert ActorPlacement.of_cluster(FakeRay).node_cpus == {"w1": 2.0}
