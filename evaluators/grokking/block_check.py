"""The rules for the code of one editable block of grokking's ``train.py``: the template kind's
(``evaluators.template.rules``), kept importable here."""

from evaluators.template.rules import NODES, Names, Where, binding, check_block, gather, member

__all__ = ["NODES", "Names", "Where", "binding", "check_block", "gather", "member"]
