"""The built-in non-LLM generator: valid code by construction, ideas that parse back to trees,
mutation of the best known trees."""

from __future__ import annotations

from evaluators.activation import search
from evaluators.activation.validator import check_source


def test_random_trees_are_valid_hypotheses_and_round_trip():
    gen = search.SearchGenerator(seed=7)
    seen = set()
    for _ in range(200):
        idea, code = gen.propose("novel", [])
        check_source(code)  # raises on anything the validator rejects
        tree = search.parse(idea)
        assert tree is not None and search.source(tree) == code
        assert not search.degenerate(tree)
        seen.add(code)
    assert len(seen) > 120  # varied, not one idea over and over


def test_incremental_mode_mutates_the_best_known_tree():
    gen = search.SearchGenerator(seed=1)
    best = search.Node("gate", (search.X, search.Node("tanh", (search.X,))))
    known = [(search.idea(best), 0.9), ("a free-text idea from an LLM", 0.95)]
    children = [search.parse(gen.propose("incremental", known)[0]) for _ in range(30)]
    assert all(c is not None and c != best and not search.degenerate(c) for c in children)
    # One change at a time: most children keep the parent's root or one of its operands.
    close = [c for c in children if c is not None and (c.op == "gate" or best in c.nodes())]
    assert len(close) >= 15


def test_parse_rejects_malformed_prefixes():
    assert search.parse("search: mul(x,x)") == search.Node("mul", (search.X, search.X))
    for bad in ("mul(x)", "nosuch(x)", "tanh(x", "tanh(x))", "tanh(x) extra", ""):
        assert search.parse(bad) is None, bad


def test_same_seed_same_proposals():
    a = [search.SearchGenerator(3).propose("novel", [])[1] for _ in range(1)]
    b = [search.SearchGenerator(3).propose("novel", [])[1] for _ in range(1)]
    assert a == b


def test_degenerate_trees_are_recognised():
    x = search.X
    assert search.degenerate(x)
    assert search.degenerate(search.Node("sub", (x, search.Node("max", (x, x)))))
    assert not search.degenerate(search.Node("gate", (x, search.Node("tanh", (x,)))))
