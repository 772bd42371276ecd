"""Messages a person reads in `kubectl describe`: one sentence that fits a terminal line.

Every condition and Event message is built to say its decision and the numbers behind it
in one sentence under ``MAX_MESSAGE`` characters; what does not fit lives in the status
fields beside it. ``one_sentence`` is the guarantee for text the operator does not write
itself (an API server's or a controller's message, a very long name).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

# Characters of a condition or Event message, exclusive.
MAX_MESSAGE: Final = 200
ELLIPSIS: Final = "…"


def one_sentence(text: str) -> str:
    """``text`` on one line, one sentence (an inner ". " becomes "; "), shorter than
    ``MAX_MESSAGE`` (cut at a word and marked "…"); a final period is kept."""
    text = " ".join(text.split())
    ends = text.endswith(".")
    body = text.rstrip(".").replace(". ", "; ")
    whole = body + ("." if ends else "")
    if len(whole) < MAX_MESSAGE:
        return whole
    cut = body[:MAX_MESSAGE - 2]
    if " " in cut:
        cut = cut.rsplit(" ", 1)[0]
    return cut.rstrip(",;: ") + ELLIPSIS


def listed(names: Sequence[str], shown: int = 2, sep: str = ", ") -> str:
    """The first ``shown`` of ``names``, and how many more: "a, b (+2 more)"."""
    head = sep.join(names[:shown])
    rest = len(names) - shown
    return f"{head} (+{rest} more)" if rest > 0 else head
