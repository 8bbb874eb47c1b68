"""Finding the action for plain words: "refund a charge" -> create refund.

The index (``data/generated/search_index.json``) is built from Stripe's spec by
``scripts/generate_operations.py``: every action's words (its entity's names, its verb and
plain words for it, its description, its object's description, its parameter names) carry a
BM25 weight computed there. Here a query's stems (``search_words``) look up those weights and
add them; an action named by both its entity and its verb in the query ranks first. Nothing
is built at run time.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import cache
from typing import Any

from source_stripe_proxy.actions.errors import refuse
from source_stripe_proxy.actions.search_words import words
from source_stripe_proxy.data import load_generated, resources

DEFAULT_RESULTS = 10
MAX_RESULTS = 50
MAX_QUERY_CHARS = 500
BOTH_NAMED_BONUS = 0.6  # up to x1.6 when the query names the whole entity and the verb: "cancel a subscription"


@cache
def _index() -> Mapping[str, Any]:
    return load_generated("search_index.json")


def kind_of(record: Mapping[str, Any]) -> str:
    """What an action does, in the words the results use: reads, writes or moves money."""
    if record.get("moves_money"):
        return "moves money"
    return "reads" if record["read_only"] else "writes"


def search_actions(query: Any, *, limit: int = DEFAULT_RESULTS, permitted: Any | None = None) -> list[dict[str, Any]]:
    """The best-matching actions for ``query``, best first: entity, action, description,
    kind (reads / writes / moves money) and score. ``permitted(action, entity, read_only)``,
    when given, keeps only the actions a caller may use."""
    if not isinstance(query, str) or not query.strip():
        raise refuse("query", "Missing 'query': describe what to do in plain words, such as 'refund a charge'.")
    if len(query) > MAX_QUERY_CHARS:
        raise refuse("query", f"'query' is at most {MAX_QUERY_CHARS} characters: a few plain words are enough.")
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_RESULTS:
        raise refuse("limit", f"'limit' must be a whole number from 1 to {MAX_RESULTS}.")
    stems = list(dict.fromkeys(words(query)))
    index = _index()
    scores: dict[int, float] = {}
    for stem in stems:
        for number, weight in index["postings"].get(stem, ()):
            scores[number] = scores.get(number, 0.0) + weight
    asked = set(stems)
    for number in scores:
        doc = index["docs"][number]
        if asked & set(doc["verb_words"]):
            named = doc["entity_words"]
            scores[number] *= 1 + BOTH_NAMED_BONUS * len(asked.intersection(named)) / len(named)
    ranked = sorted(scores.items(), key=lambda item: (-item[1], item[0]))
    results = []
    for number, score in ranked:
        doc = index["docs"][number]
        record = resources.operation(doc["entity"], doc["action"])
        if permitted is not None and not permitted(doc["action"], doc["entity"], record["read_only"]):
            continue
        results.append(
            {
                "entity": doc["entity"],
                "action": doc["action"],
                "description": _one_line(record["description"]),
                "kind": kind_of(record),
                "score": round(score, 2),
            }
        )
        if len(results) == limit:
            break
    return results


def _one_line(text: str, limit: int = 160) -> str:
    """The description's first sentence, cut to one line."""
    text = " ".join(text.split())
    end = text.find(". ")
    first = text[: end + 1] if 0 < end < limit else text
    return first if len(first) <= limit else first[: limit - 3].rstrip() + "..."
