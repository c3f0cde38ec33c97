"""The path-star task as chapter 9 uses it: one path from start to goal, the reversed target, the
held-out split of graphs, parsing, the drawing layout, and clear errors for bad settings."""

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from handbook_utils.tasks import Example, PathStarTask
from handbook_utils.tasks.path_star import graph_bucket


def paths_from(edges, start, goal):
    """Every simple path from ``start`` to ``goal`` along the listed edges (depth-first search)."""
    succ = {}
    for u, v in edges:
        succ.setdefault(u, []).append(v)
    found, stack = [], [[start]]
    while stack:
        path = stack.pop()
        if path[-1] == goal:
            found.append(tuple(path))
            continue
        stack += [path + [v] for v in succ.get(path[-1], []) if v not in path]
    return found


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 10_000), degree=st.integers(2, 5), path_length=st.integers(2, 8),
       reverse=st.booleans())
def test_exactly_one_path_from_start_to_goal_of_length_l(seed, degree, path_length, reverse):
    task = PathStarTask(degree=degree, path_length=path_length, n_nodes=62, reverse=reverse)
    for ex in task.sample(4, seed):
        graph = task.parse(ex)
        found = paths_from(graph.edges, graph.start, graph.goal)
        assert found == [graph.path] and len(graph.path) == path_length
        assert len(graph.arms) == degree and graph.arms[0] == graph.path
        assert all(len(arm) == path_length for arm in graph.arms)
        assert len({n for arm in graph.arms for n in arm}) == 1 + degree * (path_length - 1)


def test_the_reversed_target_is_the_reversed_path():
    forward, backward = PathStarTask(), PathStarTask(reverse=True)
    for f, b in zip(forward.sample(20, 3), backward.sample(20, 3)):
        assert f.prompt == b.prompt
        assert b.target.split(",") == f.target.split(",")[::-1]
        assert backward.parse(b) == forward.parse(f)


def test_the_first_step_index_points_at_the_node_after_the_start():
    for reverse in (False, True):
        task = PathStarTask(degree=3, path_length=6, reverse=reverse)
        for ex in task.sample(5, 0):
            path = task.parse(ex).path
            assert ex.target[task.first_step_index()] == path[1]
            assert [ex.target[task.node_index(k)] for k in range(6)] == list(path)
            assert sorted(task.node_indices()) == sorted(task.node_index(k) for k in range(6))


def test_train_and_test_splits_never_share_a_graph():
    train, test = PathStarTask(split="train"), PathStarTask(split="test")
    key = lambda ex: (frozenset(train.parse(ex).edges), train.parse(ex).goal)  # noqa: E731
    a = {key(ex) for ex in train.sample(2000, 0)}
    b = {key(ex) for ex in test.sample(500, 0)}
    assert not a & b
    assert all(graph_bucket(*_query(test, ex)) < test.test_share for ex in test.sample(50, 1))
    assert all(graph_bucket(*_query(train, ex)) >= train.test_share for ex in train.sample(50, 1))
    assert PathStarTask().sample(5, 7) == PathStarTask(split="all").sample(5, 7)  # the default is unchanged


def _query(task, ex):
    g = task.parse(ex)
    return g.edges, g.start, g.goal


def test_the_bucket_ignores_the_order_the_edges_are_listed_in():
    edges = [("a", "b"), ("a", "c"), ("b", "d")]
    assert graph_bucket(edges, "a", "d") == graph_bucket(edges[::-1], "a", "d")
    assert graph_bucket(edges, "a", "d") != graph_bucket(edges, "a", "c")
    assert 0 <= graph_bucket(edges, "a", "d") < 1


def test_layout_puts_the_start_in_the_middle_and_the_answer_to_the_right():
    task = PathStarTask(degree=3, path_length=4)
    ex = task.sample(1, 2)[0]
    graph = task.parse(ex)
    pos = task.layout(graph)
    assert pos[graph.start] == (0.0, 0.0) and len(pos) == 1 + 3 * 3
    assert [pos[n][0] for n in graph.path] == [0.0, 1.0, 2.0, 3.0]
    assert all(math.isclose(math.hypot(*pos[arm[-1]]), 3.0) for arm in graph.arms)


@pytest.mark.parametrize(
    "kwargs, error, name",
    [
        (dict(degree=1), ValueError, "degree"),
        (dict(degree=0), ValueError, "degree"),
        (dict(path_length=1), ValueError, "path_length"),
        (dict(degree=5, path_length=5, n_nodes=10), ValueError, "n_nodes"),
        (dict(n_nodes=63), ValueError, "n_nodes"),
        (dict(degree=2.0), TypeError, "degree"),
        (dict(reverse="yes"), TypeError, "reverse"),
        (dict(teacherless=1), TypeError, "teacherless"),
        (dict(split="valid"), ValueError, "split"),
        (dict(test_share=0.0), ValueError, "test_share"),
        (dict(test_share=1.0), ValueError, "test_share"),
    ],
)
def test_bad_settings_fail_with_a_clear_message(kwargs, error, name):
    with pytest.raises(error, match=name):
        PathStarTask(**kwargs)


def test_parse_refuses_what_is_not_an_example():
    with pytest.raises(TypeError, match="example"):
        PathStarTask().parse("a,b/a,b=")
    assert PathStarTask().parse(Example("a,b|a,c/a,c=", "a,c")).path == ("a", "c")
