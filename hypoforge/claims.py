"""What counts as a claim in prose: the one rule the paper's writer and the reviewer's checks share.

A *claim* is a word that says a hypothesis won, was confirmed or is new (``CLAIM``, ``NEW``),
asserted: not negated in its own clause (``asserts``). A negation counts only in the three words
before the claim word within its clause, so "was not confirmed" is no claim while "Unlike r0-1,
which failed, r0-2 was confirmed" and "without a doubt confirmed" are. A negation that praises
("no baseline beats r0-0", "has never been beaten") is a claim (``PRAISING_NEGATION``).
"""

from __future__ import annotations

import re

CLAIM = re.compile(
    r"(improv\w*|outperform\w*|better|beats?|beating|surpass\w*|exceed\w*|superior|"
    r"discover\w*|confirm\w*|breakthrough|groundbreaking|state[- ]of[- ]the[- ]art|novel\w*|"
    r"significant contributions?|win\b(?!\s+rates?)|wins\b|winner|winning(?!\s+rates?)|dominat\w*|"
    r"ahead of|strongest|"
    r"\btop\b|un(beaten|surpassed|matched|rivall?ed)|validat\w*|verif\w*|replicat\w*|"
    r"generali[sz]\w*|held up|establish\w*|game[- ]changer|revolution\w*|unprecedented|"
    r"(more|higher|larger|greater) .{0,30}? than)",
    re.IGNORECASE,
)
# Of a published component: any word that says it is new or its authors'.
NEW = re.compile(
    r"\b(novel\w*|new|discover\w*|first|invent\w*|introduc\w*|original|unpublished|"
    r"previously unknown|our own)\b",
    re.IGNORECASE,
)
DISCOVERY = re.compile(r"discover\w*|confirm\w*|breakthrough|novel\w*", re.IGNORECASE)
NEGATION = re.compile(r"\b(not|no|never|none|neither|nor|fails?|failed|without)\b|n't\b", re.I)
# Phrases that assert although they hold a negation word.
ASSERTIVE = re.compile(
    r"\b(without (a |any )?doubt|no doubt|not only|(with|without) (no |any )?exceptions?|"
    r"no less than|nothing short of|not least)\b",
    re.IGNORECASE,
)
PRAISING_NEGATION = re.compile(
    r"\b(no|none|nothing|never|neither)\b[^.;]{0,60}?"
    r"\b(beat\w*|outperform\w*|surpass\w*|match\w*|rival\w*|exceed\w*|came close|comes? close)",
    re.IGNORECASE,
)


def asserts(pattern: re.Pattern[str], text: str) -> bool:
    """``pattern`` occurs in ``text`` at least once without a negation in the three words before
    it in its own clause, or ``text`` praises by negation (see the module docstring)."""
    plain = ASSERTIVE.sub(" ", text)
    if pattern is CLAIM and PRAISING_NEGATION.search(plain):
        return True
    for m in pattern.finditer(plain):
        clause = re.split(r"[,;:()]", plain[: m.start()])[-1]
        if not NEGATION.search(" ".join(clause.split()[-3:])):
            return True
    return False


# -- how the campaign ran: who proposed, who reviewed, lineage ------------------------------------
# A language model (or agents) as the author of the hypotheses: "proposed by language-model
# agents", "an LLM generated", "the proposer model wrote".
LLM_PROPOSED = re.compile(
    r"\b(propos\w*|generat\w*|written|wrote|suggest\w*|came)\s+(by|with|from)\s+(an?\s+|the\s+)?"
    r"((large\s+)?language[- ]models?|LLMs?|(language[- ]model\s+|LLM\s+|AI\s+)?agents?|"
    r"(the\s+)?proposer)\b|"
    r"\b((large\s+)?language[- ]models?|LLMs?|agents?|proposer( model)?)\s+"
    r"(propos\w*|generat\w*|wrote|writes|suggest\w*)\b",
    re.IGNORECASE,
)
# A critic (or a model) that reviewed the proposals.
CRITIC = re.compile(
    r"\bcritic(s|'s)?\b|\b(reviewed|checked|vetted|judged|screened)\s+by\s+(an?\s+|the\s+)?"
    r"(language[- ]models?|LLMs?|models?|agents?|reviewers?)\b",
    re.IGNORECASE,
)
LINEAGE = re.compile(
    r"\b(parents?|parent's|child|children|lineage|offspring|descend\w*|ancest\w*|"
    r"built on (an )?earlier|builds on (an )?earlier)\b",
    re.IGNORECASE,
)


def provenance_problems(
    sentence: str, *, llm_proposed: bool, critic_reviewed: bool, lineage: bool
) -> list[str]:
    """What ``sentence`` asserts about how the campaign ran that its records do not show: a
    language model that proposed (``llm_proposed`` false: the search generator did), a critic
    that reviewed (none did), parents and children (no proposal named a parent)."""
    why = []
    if not llm_proposed and asserts(LLM_PROPOSED, sentence):
        why.append("says a language model proposed the hypotheses: none did in this campaign")
    if not critic_reviewed and asserts(CRITIC, sentence):
        why.append("says a critic reviewed the proposals: no critic review is recorded")
    if not lineage and asserts(LINEAGE, sentence):
        why.append("speaks of lineage: no proposal in this campaign named a parent")
    return why
