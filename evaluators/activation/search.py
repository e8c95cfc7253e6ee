"""A proposer without a language model: random and evolutionary composition of elementary torch
operations, after the bottom-up search of "Searching for Activation Functions".

An activation is an expression tree over ``x`` built from unary and binary units. Its prefix form
(e.g. ``mul(x,sigmoid(scale1.5(x)))``) is its idea text, so that a later round (or a resumed
campaign) can parse the best known trees back and mutate them. Two uses: a baseline proposer to
compare a language model against at equal budget, and a cheap way to fill the novelty archive
with labelled examples for the reward model.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass

IDEA_PREFIX = "search: "

# name -> code template over one operand "{a}"
UNARY = {
    "neg": "-({a})",
    "abs": "torch.abs({a})",
    "square": "torch.square({a})",
    "cube": "torch.pow({a}, 3)",
    "sqrtabs": "torch.sqrt(torch.abs({a}) + 1e-6)",
    "exp": "torch.exp({a})",
    "logabs": "torch.log(torch.abs({a}) + 1e-6)",
    "sin": "torch.sin({a})",
    "cos": "torch.cos({a})",
    "tanh": "torch.tanh({a})",
    "sigmoid": "torch.sigmoid({a})",
    "erf": "torch.erf({a})",
    "atan": "torch.atan({a})",
    "relu": "torch.relu({a})",
    "softplus": "F.softplus({a})",
    "gelu": "F.gelu({a})",
    "silu": "F.silu({a})",
    "elu": "F.elu({a})",
    "softsign": "F.softsign({a})",
    "scale0.5": "0.5 * ({a})",
    "scale1.5": "1.5 * ({a})",
    "scale2": "2.0 * ({a})",
}
# name -> code template over two operands
BINARY = {
    "add": "({a}) + ({b})",
    "sub": "({a}) - ({b})",
    "mul": "({a}) * ({b})",
    "max": "torch.maximum({a}, {b})",
    "min": "torch.minimum({a}, {b})",
    "gate": "({a}) * torch.sigmoid({b})",
    "softdiv": "({a}) / (1.0 + torch.abs({b}))",
}
MAX_DEPTH = 4


@dataclass(frozen=True)
class Node:
    """``op`` is "x", a UNARY name (one child) or a BINARY name (two children)."""

    op: str
    children: tuple[Node, ...] = ()

    def prefix(self) -> str:
        if self.op == "x":
            return "x"
        return f"{self.op}({','.join(c.prefix() for c in self.children)})"

    def code(self) -> str:
        if self.op == "x":
            return "x"
        parts = [c.code() for c in self.children]
        if self.op in UNARY:
            return UNARY[self.op].format(a=parts[0])
        return BINARY[self.op].format(a=parts[0], b=parts[1])

    def nodes(self) -> list[Node]:
        out = [self]
        for c in self.children:
            out.extend(c.nodes())
        return out

    def depth(self) -> int:
        return 1 + max((c.depth() for c in self.children), default=0)


X = Node("x")


def degenerate(tree: Node) -> bool:
    """Trees that waste an evaluation: the bare input, or a binary unit of two equal operands
    (max(u,u) is u, sub(u,u) is 0)."""
    return tree.op == "x" or any(
        n.op in BINARY and n.children[0] == n.children[1] for n in tree.nodes()
    )


def source(tree: Node) -> str:
    """The hypothesis file for ``tree``."""
    return (
        "import torch\nimport torch.nn.functional as F\n\n\n"
        f"def activation(x):\n    return {tree.code()}\n"
    )


def idea(tree: Node) -> str:
    return IDEA_PREFIX + tree.prefix()


_TOKEN = re.compile(r"\s*([A-Za-z][A-Za-z0-9.]*|\(|\)|,)")


def parse(text: str) -> Node | None:
    """The tree whose prefix form is ``text`` (an idea may carry the IDEA_PREFIX), or None."""
    text = text.removeprefix(IDEA_PREFIX).strip()
    tokens = _TOKEN.findall(text)
    if "".join(tokens) != text.replace(" ", ""):
        return None
    pos = 0

    def node() -> Node:
        nonlocal pos
        name = tokens[pos]
        pos += 1
        if name == "x":
            return X
        arity = 1 if name in UNARY else 2 if name in BINARY else 0
        if arity == 0 or tokens[pos] != "(":
            raise ValueError(name)
        pos += 1
        kids = [node()]
        for _ in range(arity - 1):
            if tokens[pos] != ",":
                raise ValueError(",")
            pos += 1
            kids.append(node())
        if tokens[pos] != ")":
            raise ValueError(")")
        pos += 1
        return Node(name, tuple(kids))

    try:
        tree = node()
    except (ValueError, IndexError):
        return None
    return tree if pos == len(tokens) else None


class SearchGenerator:
    """Random trees for novel proposals; mutations of the best known trees for incremental ones."""

    def __init__(self, seed: int = 0) -> None:
        self.rng = random.Random(seed)

    def random_tree(self, depth: int = 3) -> Node:
        """A core unit b(u1(x), u2(x)) or a unary of one, recursively up to ``depth``."""
        r = self.rng.random()
        if depth <= 1 or r < 0.2:
            return X
        if r < 0.55:
            return Node(self.rng.choice(list(UNARY)), (self.random_tree(depth - 1),))
        left, right = self.random_tree(depth - 1), self.random_tree(depth - 1)
        return Node(self.rng.choice(list(BINARY)), (left, right))

    def fresh(self) -> Node:
        while True:
            tree = self.random_tree(self.rng.choice((2, 3, 3, 4)))
            if tree.op not in ("x", "neg") and not degenerate(tree):
                return tree

    def mutate(self, tree: Node) -> Node:
        """Change one node: swap its operation for another of the same arity, or regrow it."""
        target = self.rng.choice(tree.nodes())

        def rebuild(n: Node) -> Node:
            if n is target:
                if n.op in UNARY and self.rng.random() < 0.6:
                    return Node(self.rng.choice([u for u in UNARY if u != n.op]), n.children)
                if n.op in BINARY and self.rng.random() < 0.6:
                    return Node(self.rng.choice([b for b in BINARY if b != n.op]), n.children)
                return self.random_tree(2)
            return Node(n.op, tuple(rebuild(c) for c in n.children))

        for _ in range(20):
            child = rebuild(tree)
            if child != tree and child.depth() <= MAX_DEPTH + 1 and not degenerate(child):
                return child
            target = self.rng.choice(tree.nodes())
        return self.fresh()

    def propose(self, mode: str, known: list[tuple[str, float]]) -> tuple[str, str]:
        """(idea, code) for one proposal. ``known``: (idea, win rate) of earlier hypotheses.

        Novel mode draws a fresh tree; incremental mode mutates a tree picked by a size-3
        tournament among the best known search trees (a fresh tree when none is known).
        """
        parents = sorted(
            ((wr, t) for text, wr in known if (t := parse(text)) is not None),
            key=lambda p: p[0],
            reverse=True,
        )[:10]
        if mode == "novel" or not parents:
            tree = self.fresh()
        else:
            contest = self.rng.sample(parents, min(3, len(parents)))
            tree = self.mutate(max(contest, key=lambda p: p[0])[1])
        return idea(tree), source(tree)
