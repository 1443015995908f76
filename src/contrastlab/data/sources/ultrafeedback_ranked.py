"""ultrafeedback_ranked: UltraFeedback's responses ranked (hub, `openbmb/UltraFeedback`, one split), or a local copy.

A row is `source`, `instruction`, `models`, `completions` (a list of {`model`, `principle`, `custom_system_prompt`,
`response`, `annotations`, `fine-grained_score`, `overall_score`, `critique`}), `correct_answers`,
`incorrect_answers` -> Ranked(prompt = instruction, completions = the responses, scores = `fine-grained_score`, the
mean of GPT-4's four aspect ratings, 1-5). A completion with no score (missing or NaN) or an empty response is left
out; a row with fewer than two completions left is skipped. The group is the prompt; with one split,
`data.eval_fraction` of the prompts is held out. Read as published: `data.columns` and `data.format` do not apply.
"""

from __future__ import annotations

from contrastlab.data.cells import number, parse_rows
from contrastlab.data.files import BadRecord
from contrastlab.data.records.ranked import Ranked
from contrastlab.data.hub import HubSource
from contrastlab.data.sources.scored import check_columns, text

NEEDED = ("instruction", "completions")


def ranked_of(row, origin) -> Ranked:
    """An openbmb/UltraFeedback row -> Ranked over its responses with a fine-grained score."""
    prompt = text(row.values.get("instruction"))
    if prompt is None:
        raise BadRecord(f"{origin.name} {row.where}: instruction is empty", "empty instruction")
    completions, scores = [], []
    for completion in row.values.get("completions") or []:
        if not isinstance(completion, dict):
            continue
        response, score = text(completion.get("response")), number(completion.get("fine-grained_score"))
        if response is not None and score is not None:
            completions.append(response)
            scores.append(score)
    if len(completions) < 2:
        raise BadRecord(f"{origin.name} {row.where}: {len(completions)} scored completion(s), fewer than two",
                        "fewer than two scored completions")
    return Ranked(prompt=prompt, completions=completions, scores=scores, group=prompt)


def _parse(rows, cols, origin, cfg) -> list[Ranked]:
    check_columns(SOURCE, rows, origin, NEEDED)
    return parse_rows(rows, lambda row, c, where: ranked_of(row, where), {}, origin, "ranked lists")


SOURCE = HubSource(
    name="ultrafeedback_ranked",
    record=Ranked,
    summary="openbmb/UltraFeedback responses ranked by their fine-grained scores, or a local copy",
    hub_id="openbmb/UltraFeedback",
    splits=("train",),
    renames=False,
    parse=_parse,
)
