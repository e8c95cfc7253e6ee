"""The writer: a model's prose for each section, kept only where it is grounded.

For each section the model is shown the facts code gathered (``brief``) and the citation keys of
the bibliography, and writes a few sentences. Its text is then checked by code: every number must
be one code printed (``Facts.figures``, at its precision; no integer is exempt), every hypothesis
id one of the campaign's, every ``\\cite`` key one of the bibliography's. A text that fails is
asked for once more with the problems named (``rewrites``); what still fails is removed sentence
by sentence, and every removal is logged. A section left with too little, or a model that gives
nothing (or none at all: ``model=None``), gets the sentences code writes
(``render.default_prose``). The prose then goes through ``latex.prose``: it can print, nothing
else.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from agents.analyst import HYPOTHESIS_ID
from agents.llm import ParseError, ask
from agents.prompting import render as render_prompt
from hypoforge.claims import CLAIM, NEW, asserts, provenance_problems
from hypoforge.paper import render
from hypoforge.paper.facts import Facts, number
from hypoforge.paper.latex import _PIECE, ascii_text, plain
from store.lifecycle import discovery

PURPOSE = {
    "abstract": (
        "abstract",
        4,
        "Say what was searched for, how it was measured and what was found.",
    ),
    "introduction": (
        "introduction",
        5,
        "Say what the task is and why it matters; say how the search was run, exactly as "
        "the facts say (who proposed, whether a critic reviewed, sandbox, trusted scoring).",
    ),
    "related": (
        "background and related work",
        4,
        "Relate the task's baselines and the published components the campaign met, citing them.",
    ),
    "method": (
        "method",
        5,
        "Describe the search as the facts say it ran: who proposed and reviewed, the "
        "behavioural probe where one ran, the budget ladder, the keep rule and held-out "
        "confirmation.",
    ),
    "results": (
        "results discussion",
        5,
        "Discuss the leading hypotheses' win rates and "
        "intervals, and whether any was confirmed on held-out splits.",
    ),
    "limitations": (
        "limitations",
        4,
        "Say what the evidence cannot show: few seeds and "
        "datasets, small models, selection bias, screening fidelity.",
    ),
    "conclusion": ("conclusion", 3, "Sum up what was measured and what to try next."),
}
SHINGLE = 8  # words in a run that, said twice, makes a sentence a repeat
LONGEST = 70  # words in a sentence; a longer one is a small model running on
MIN_CHARS = 60
# Sections that always open with code's sentences (what was measured), the model's after them.
ANCHORED = frozenset(
    {"abstract", "results"}
)  # a section with less than this left after the checks gets code's sentences
SENTENCE = re.compile(r"(?<=[.!?])\s+(?=[A-Z\\(])")


@dataclass
class Written:
    section: str
    text: str  # the prose as kept (plain text with \cite{} and \emph{}), before LaTeX
    source: str  # "model", "model, trimmed" or "code"
    removed: list[tuple[str, str]] = field(default_factory=list)  # (sentence, why)
    rounds: int = 0
    tokens: int = 0
    errors: list[str] = field(default_factory=list)


def brief(facts: Facts) -> str:
    """The facts a writer may use, one per line, each figure printed as the paper prints it."""
    lines = [f"- task: {facts.task}: {facts.summary}" if facts.summary else f"- task: {facts.task}"]
    lines.append(
        f"- proposals: {len(facts.rows)}; scored: {len(facts.scored)}; sandbox runs: "
        f"{facts.launches}"
    )
    for key, value in facts.how.setup().items():  # how it ran: only what the records show
        lines.append(f"- {key}: {value}")
    if not facts.how.critic_reviewed:
        lines.append("- no critic reviewed the proposals: do not mention a critic")
    if not facts.how.llm_proposed:
        lines.append("- no language model proposed the hypotheses")
    lines.append(
        f"- baselines: {', '.join(facts.baselines) or 'none'}; datasets: "
        f"{len(facts.datasets)} ({', '.join(facts.datasets)})"
    )
    for r in facts.leaders:
        rep = facts.reports[r.id]
        lo, hi = rep.win_rate_ci or (None, None)
        ci = f", 95% CI {number(lo)} to {number(hi)}" if lo is not None else ""
        held = (
            f", held-out win rate {number(r.confirm_win_rate)} ({r.confirmation})"
            if r.confirm_win_rate is not None
            else ""
        )
        known = f", {r.known} (published)" if r.known else ""
        lines.append(
            f"- hypothesis {r.id} ({' '.join(r.idea.split())[:100]}): win rate "
            f"{number(rep.win_rate)} at the {rep.budget} budget{ci}{held}{known}"
        )
    found = facts.discoveries
    lines.append(
        "- confirmed discoveries: " + (", ".join(r.id for r in found) if found else "none")
    )
    return "\n".join(ascii_text(line) for line in lines)


def keys_text(facts: Facts) -> str:
    if not facts.sources:
        return "none (cite nothing)"
    return "\n".join(
        f"- {s.key}: {ascii_text(s.title)[:90]} ({s.year or 'n.d.'})" for s in facts.sources
    )


# Claims (``hypoforge.claims``, the reviewer's rule too) beyond its words: hype a small model
# writes about a result it does not name.
HYPE = re.compile(
    r"new (findings?|results?|methods?|approach\w*|era|insights?)|paradigm|never been possible|"
    r"\b(we|this (paper|campaign|work|study))\b.{0,40}\b(found a new|propose[sd]? a new|"
    r"introduce[sd]? a new)",
    re.IGNORECASE,
)
# Numbers in words: never printed by code, so never in the facts.
NUMBER_WORDS = re.compile(
    r"\b(eleven|twelve|thirteen|fourteen|fifteen|sixteen|seventeen|eighteen|nineteen|twenty|"
    r"thirty|forty|fifty|sixty|seventy|eighty|ninety|hundred|thousand|million|billion|"
    r"percent|per cent|dozens?|\w+fold)\b",
    re.IGNORECASE,
)
NAME = re.compile(r"\b[A-Z][A-Za-z0-9-]*[A-Za-z0-9]\b")
# Capitalised words any paper uses; a name beyond these and the facts' words is made up.
COMMON = frozenset(
    """i we our us the this these that those a an in on of for to it its they their them there
    table figure section appendix however each every no none all both one two three first second
    third finally moreover thus here when where while which what who how why as at by with from
    and or but not if so then also only such some any most more less many much other another
    same since after before during because although though yet still further furthermore
    overall together instead indeed given using based unlike like beyond within without across
    against among between over under about above below than can could may might must should
    would will shall is are was were be been being has have had do does did results result
    method methods hypotheses hypothesis proposals proposal datasets dataset baselines baseline
    experiments experiment models model search campaign paper work study task tasks win rate
    rates intervals interval accuracy scores score evidence measurements future next
    limitations conclusion background related setup seeds seed splits budget budgets screening
    selection confirmation held-out probe critic sandbox harness reward ladder activation
    activations component components function functions network networks training data code
    published catalogue none neither""".split()
)
# A letter standing for a digit (``O.99``, ``0.9l``), a ratio of small integers (``6 of 7``) and
# a numbered citation (``[7]``, ``et al.``): numbers the check would not read as invented.
LOOKALIKE = re.compile(r"\b[OolI]\.\d|\d\.\d*[OolI]\b|\b\d+[lIO]\b|\b[lIO]\d")
RATIO = re.compile(r"\b\d+\s+(?:out\s+)?of\s+(?:the\s+)?\d+\b")
CITED = re.compile(r"\[\s*\d+(?:\s*[,-]\s*\d+)*\s*\]|\bet al\b")
# Words to the paper's readers (the reviewers are models too): a paper states, it asks nothing.
ADDRESSED = re.compile(
    r"\breview(er|ers|ing)?\b|overall score|\baccept\w*|code checks?|\bignore\b|instructions?",
    re.IGNORECASE,
)
KEYLIKE = re.compile(r"\b[a-z]+\d{4}[a-z_]*\b")  # nair2010rectified: a key written as a word
# Words of the instructions a small model repeats back: never prose about the campaign.
ECHO = re.compile(
    r"previous text|citation keys|you may use|write it again|plain prose|not usable|"
    r"facts \(measured|\brules:|at most \d+ sentences|no headings|no lists|in the facts|"
    r"rewritten text|here is the|the facts below|reference points(,| are)|never new",
    re.IGNORECASE,
)


def _claims(sentence: str, facts: Facts, named: list[str]) -> list[str]:
    """Claims ``sentence`` makes that the ledger does not hold, for the hypotheses it names (or
    the sentence before it named: "We report r0-0. It outperforms ..."); a claim that names
    none is refused."""
    rows = {r.id: r for r in facts.rows}
    claimed = asserts(CLAIM, sentence) or asserts(HYPE, sentence)
    why = []
    for hid in named:
        row = rows.get(hid)
        if row is None:
            continue
        if row.known and asserts(NEW, sentence):
            why.append(f"{hid} is a published component ({row.known}), never new")
        elif claimed and not discovery(row):
            why.append(f"claims for {hid} what the ledger does not hold (no confirmed discovery)")
    if not named and claimed:
        why.append("claims a result without naming the hypothesis")
    return why


def vocabulary(facts: Facts) -> set[str]:
    """The words code gave the writer (the brief, the references, the task's description):
    a name outside it is one the model made up."""
    text = " ".join(
        [
            brief(facts),
            keys_text(facts),
            facts.summary,
            *(f"{s.title} {' '.join(s.authors)} {s.venue}" for s in facts.sources),
        ]
    )
    return {w.lower() for w in re.findall(r"[A-Za-z][A-Za-z-]*", ascii_text(text))} | COMMON


def _invented_names(sentence: str, words: set[str]) -> list[str]:
    """Capitalised words that are not in ``words`` (invented institutions, systems, people,
    venues), the sentence's first word too unless it is a common one, and names with digits
    (``T5``, ``A100``)."""
    found = []
    for m in NAME.finditer(plain(sentence)):
        word = m.group(0)
        if word.lower() not in words and word not in found:
            found.append(word)
    return found


def problems(text: str, facts: Facts) -> list[tuple[str, str]]:
    """Each sentence of ``text`` that says something code did not provide, or a claim the
    ledger does not hold, or that repeats the instructions or itself, with why."""
    ids = {r.id for r in facts.rows}
    keys = {s.key for s in facts.sources}
    found = []
    seen: set[str] = set()
    vocab = vocabulary(facts)
    for para in re.split(r"\n\s*\n", text):
        previous: list[str] = []  # the ids the sentence before named, in this paragraph
        for sentence in SENTENCE.split(" ".join(para.split())):
            why = []
            # What the sentence prints: markup gone, nothing put in its place (so
            # ``con\\emph{firmed}`` reads "confirmed").
            printed = plain(sentence)
            # The campaign's ids are names, not numbers (``r0-12`` is no claim of 12)...
            words = HYPOTHESIS_ID.sub(lambda m: " " if m.group(0) in ids else m.group(0), printed)
            # ...and with every markup character read as a space too, so digits glued to one
            # (``$\\approx$0.97``, ``\\emph{about}0.97``) are read as the number they print.
            spaced = re.sub(r"\\[A-Za-z]+|[{}$~^_\\]", " ", HYPOTHESIS_ID.sub(" ", sentence))
            bad = facts.figures.untraced(f"{words} {spaced}", structural=0)
            spelled = NUMBER_WORDS.findall(sentence)
            if spelled:
                why.append(
                    "numbers in words: "
                    + ", ".join(w[0] if isinstance(w, tuple) else w for w in spelled[:3])
                )
            odd = LOOKALIKE.findall(printed) + RATIO.findall(printed) + CITED.findall(printed)
            if odd:
                why.append("numbers in disguise: " + ", ".join(str(o) for o in odd[:3]))
            if bad:
                why.append("numbers not in the facts: " + ", ".join(bad[:5]))
            named = HYPOTHESIS_ID.findall(printed)
            unknown_ids = [i for i in named if i not in ids]
            if unknown_ids:
                why.append("hypothesis ids not in the campaign: " + ", ".join(unknown_ids[:5]))
            asked = [
                k.strip()
                for m in _PIECE.finditer(sentence)
                if m.group("keys") is not None
                for k in m.group("keys").split(",")
            ]
            unknown = [k for k in asked if k and k not in keys]
            if unknown:
                why.append("citation keys not in the bibliography: " + ", ".join(unknown[:5]))
            subjects = [i for i in named if i in ids] or previous
            previous = subjects
            why += _claims(printed, facts, subjects)
            why += provenance_problems(
                printed,
                llm_proposed=facts.how.llm_proposed,
                critic_reviewed=facts.how.critic_reviewed,
                lineage=facts.how.lineage,
            )
            invented = _invented_names(sentence, vocab)
            if invented:
                why.append("names not in the facts: " + ", ".join(invented[:4]))
            keyish = [w for w in KEYLIKE.findall(plain(sentence)) if w not in ids]
            if keyish:
                why.append("citation keys outside \\cite: " + ", ".join(keyish[:3]))
            if ECHO.search(printed):
                why.append("repeats the instructions")
            if ADDRESSED.search(printed):
                why.append("addresses the paper's readers or reviewers")
            tokens = re.findall(r"[a-z0-9]+", sentence.lower())
            grams = {" ".join(tokens[i : i + SHINGLE]) for i in range(len(tokens) - SHINGLE + 1)}
            own = len(tokens) - SHINGLE + 1
            if (grams & seen) or (own > 0 and len(grams) < own) or " ".join(tokens) in seen:
                why.append("repeated")  # an eight-word run said before, here or earlier
            seen |= grams | {" ".join(tokens)}
            if len(tokens) > LONGEST:
                why.append(f"a run-on sentence of {len(tokens)} words")
            if why:
                found.append((sentence, "; ".join(why)))
    return found


def _trim(text: str, bad: list[tuple[str, str]], most: int | None = None) -> tuple[str, list[str]]:
    """``text`` without the ``bad`` sentences (a repeated one keeps its first time), and with at
    most ``most`` sentences; returns it and the sentences cut for length."""
    from collections import Counter

    flagged = Counter(s for s, _ in bad)
    total = Counter(
        s for para in re.split(r"\n\s*\n", text) for s in SENTENCE.split(" ".join(para.split()))
    )
    keep = {s: total[s] - flagged[s] for s in total}
    kept, cut, count = [], [], 0
    for para in re.split(r"\n\s*\n", text):
        sentences = []
        for s in SENTENCE.split(" ".join(para.split())):
            if not s or keep.get(s, 0) <= 0:
                continue
            keep[s] -= 1
            if most is not None and count >= most:
                cut.append(s)
                continue
            count += 1
            sentences.append(s)
        if sentences:
            kept.append(" ".join(sentences))
    return "\n\n".join(kept), cut


def _reply(text: str) -> str:
    """A reply's prose in printable ASCII (what ``latex.prose`` prints, so the checks read the
    same text: a control character dropped there would glue ``0.9\r9`` into 0.99): fences,
    headings and list marks dropped; empty is a parse error."""
    lines = []
    for line in ascii_text(text).replace("```", "\n").splitlines():
        if re.match(r"^\s*#+\s", line):
            continue
        line = re.sub(r"^\s*(?:[-*]|\d+[.)])\s+", "", line)
        lines.append(re.sub(r"^\s*[A-Z][A-Za-z ]{0,30}:\s+", "", line))  # "Abstract: ..."
    prose = "\n".join(lines).strip()
    if len(prose) < 20:
        raise ParseError("the reply holds no prose")
    return prose[:4000]


def write_section(
    model: Any | None,
    section: str,
    facts: Facts,
    system: str,
    rewrites: int = 1,
    problem: str = "",
) -> Written:
    """``section``'s prose: the model's, grounded, else code's (see the module docstring)."""
    if model is None:
        return Written(section, render.default_prose(section, facts), "code")
    name, sentences, purpose = PURPOSE[section]
    done = Written(section, "", "model")
    text = ""
    bad: list[tuple[str, str]] = []
    for attempt in range(rewrites + 1):
        prompt = render_prompt(
            "paper_section",
            None,
            section_name=name,
            sentences=sentences,
            purpose=purpose,
            brief=brief(facts),
            keys=keys_text(facts),
            problem=problem,
        )
        answer = ask(model, system, prompt, _reply, retries=0)
        done.rounds, done.tokens = attempt + 1, done.tokens + answer.tokens
        done.errors += answer.errors
        if answer.value is None:
            break
        text = answer.value
        bad = problems(text, facts)
        if not bad:
            break
        problem = "; ".join(sorted({why for _, why in bad}))[:600]
    text, cut = _trim(text, bad, most=sentences + 2)
    done.removed = bad + [(c, "over the section's length") for c in cut]
    if done.removed:
        done.source = "model, trimmed"
    if len(plain(text).strip()) < MIN_CHARS:
        if text.strip():
            done.removed.append((text, "too little left after the checks"))
        return Written(
            section,
            render.default_prose(section, facts),
            "code",
            done.removed,
            done.rounds,
            done.tokens,
            done.errors,
        )
    done.text = text
    return done


def shown(written: Written, facts: Facts) -> str:
    """The prose a section prints: a model's text in an ``ANCHORED`` section comes after code's
    sentences (what was measured), any other as written."""
    if written.section in ANCHORED and written.source != "code":
        return render.default_prose(written.section, facts) + "\n\n" + written.text
    return written.text
