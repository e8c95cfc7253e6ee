"""Wiring only: the campaign graph in one block, one node or edge per line."""

from __future__ import annotations

from typing import Any

from langgraph.graph import END, START, StateGraph

from graph import gate, ladder, nodes, routing, selection
from graph.deps import Deps
from graph.state import CampaignState

RECURSION_LIMIT = 10_000  # set explicitly; each round takes about ten steps


def build(deps: Deps, checkpointer: Any = None) -> Any:
    """Compile the campaign graph over ``deps``.

    context -> propose -> critique -> code -> validate -(repairs left)-> code
               -> gate (the user's decisions; approval mode waits here) -(revise)-> code
               -> probe -(code fault, repairs left)-> code
               -> select (duplicates, reward model, top-k) -> screen -(code fault)-> code
               -> evaluate (the ladder: short, full) -> confirm (keep, held-out splits)
               -> analyze -> record
    record -> context -> (budget spent) -> END
    """

    def bind(fn: Any) -> Any:
        def node(state: CampaignState) -> Any:
            return fn(state, deps)

        node.__name__ = fn.__name__
        return node

    def edge(fn: Any) -> Any:
        """A routing predicate of ``graph.routing`` over the round's ledger rows."""

        def route(state: CampaignState) -> Any:
            return fn(deps.rows(state["batch"]))

        route.__name__ = fn.__name__
        return route

    g = StateGraph(CampaignState)
    g.add_node("context", bind(nodes.context))
    g.add_node("propose", bind(nodes.propose))
    g.add_node("critique", bind(nodes.critique))
    g.add_node("code", bind(nodes.code))
    g.add_node("validate", bind(nodes.validate))
    g.add_node("gate", bind(gate.gate))
    g.add_node("probe", bind(selection.probe))
    g.add_node("select", bind(selection.select))
    g.add_node("screen", bind(ladder.screen))
    g.add_node("evaluate", bind(ladder.evaluate))
    g.add_node("confirm", bind(ladder.confirm))
    g.add_node("analyze", bind(nodes.analyze))
    g.add_node("record", bind(nodes.record))
    g.add_edge(START, "context")
    g.add_conditional_edges(
        "context", lambda s: routing.after_context(s["stop"]), {"propose": "propose", END: END}
    )
    g.add_edge("propose", "critique")
    g.add_edge("critique", "code")
    g.add_edge("code", "validate")
    g.add_conditional_edges("validate", edge(routing.after_validate), ["code", "gate"])
    g.add_conditional_edges("gate", edge(routing.after_gate), ["code", "probe"])
    g.add_conditional_edges("probe", edge(routing.after_probe), ["code", "select"])
    g.add_edge("select", "screen")
    g.add_conditional_edges("screen", edge(routing.after_screen), ["code", "evaluate"])
    g.add_edge("evaluate", "confirm")
    g.add_edge("confirm", "analyze")
    g.add_edge("analyze", "record")
    g.add_edge("record", "context")
    return g.compile(checkpointer=checkpointer)
