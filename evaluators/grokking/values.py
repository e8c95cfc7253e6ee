"""What values a block of grokking's ``train.py`` may write: the template kind's rules
(``evaluators.template.values``), kept importable here."""

from evaluators.template.values import (
    ANNOTATION_NODES,
    ANNOTATION_PATHS,
    CONSTANT_NODES,
    MAX_INT,
    MAX_ITEMS,
    MAX_STRING,
    check_annotation,
    check_constant,
    check_literal,
    constant_expression,
    dotted,
    fail,
)

__all__ = [
    "ANNOTATION_NODES",
    "ANNOTATION_PATHS",
    "CONSTANT_NODES",
    "MAX_INT",
    "MAX_ITEMS",
    "MAX_STRING",
    "check_annotation",
    "check_constant",
    "check_literal",
    "constant_expression",
    "dotted",
    "fail",
]
