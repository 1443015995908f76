"""helpsteer2: HelpSteer2 (hub, `nvidia/HelpSteer2`, splits `train`, `validation`), or a local copy in its schema.

A row is `prompt`, `response` and five human ratings 0-4 (`helpfulness`, `correctness`, `coherence`, `complexity`,
`verbosity`); consecutive rows share a prompt (two responses each, mostly). The rows are grouped by prompt
(first-seen order); each prompt with two responses or more gives one MultiAttribute of its first two: chosen = the
more helpful (the first on a tie), scores over the five attributes in that order, as floats. The group is the
prompt. Read as published: `data.columns` and `data.format` do not apply.
"""

from __future__ import annotations

from contrastlab.data.cells import number, parse_rows
from contrastlab.data.files import BadRecord, Row
from contrastlab.data.records.multi_attribute import MultiAttribute
from contrastlab.data.hub import HubSource
from contrastlab.data.sources.scored import check_columns, text

ATTRIBUTES = ("helpfulness", "correctness", "coherence", "complexity", "verbosity")
NEEDED = ("prompt", "response") + ATTRIBUTES


def pair_of(rows: list[Row], origin) -> MultiAttribute:
    """The HelpSteer2 rows of one prompt -> the first two responses, the more helpful chosen (the first on a tie)."""
    first = rows[0]
    if len(rows) < 2:
        raise BadRecord(f"{origin.name} {first.where}: the prompt has one response", "prompt with one response")
    sides = []
    for row in rows[:2]:
        response = text(row.values.get("response"))
        scores = {name: number(row.values.get(name)) for name in ATTRIBUTES}
        if response is None or None in scores.values():
            raise BadRecord(f"{origin.name} {row.where}: an empty response or a missing rating",
                            "empty response or missing rating")
        sides.append((response, scores))
    if sides[0][0] == sides[1][0]:
        raise BadRecord(f"{origin.name} {first.where}: the two responses are the same", "chosen equals rejected")
    if sides[1][1]["helpfulness"] > sides[0][1]["helpfulness"]:
        sides.reverse()
    (chosen, scores_chosen), (rejected, scores_rejected) = sides
    prompt = first.values["prompt"]
    return MultiAttribute(prompt=prompt, chosen=chosen, rejected=rejected, scores_chosen=scores_chosen,
                          scores_rejected=scores_rejected, group=prompt)


def _by_prompt(rows: list[Row], origin) -> list[Row]:
    """One row per prompt (first-seen order) holding its rows, where the first of them is; a row with an empty
    prompt is a bad record of `origin`."""
    prompts: dict[str, list[Row]] = {}
    for row in rows:
        prompt = text(row.values.get("prompt"))
        if prompt is None:
            origin.skip(BadRecord(f"{origin.name} {row.where}: prompt is empty", "empty prompt"))
        else:
            prompts.setdefault(prompt, []).append(row)
    return [Row(group[0].where, {"rows": group}) for group in prompts.values()]


def _parse(rows, cols, origin, cfg) -> list[MultiAttribute]:
    check_columns(SOURCE, rows, origin, NEEDED)
    return parse_rows(_by_prompt(rows, origin), lambda row, c, where: pair_of(row.values["rows"], where), {}, origin,
                      "multi-attribute pairs")


SOURCE = HubSource(
    name="helpsteer2",
    record=MultiAttribute,
    summary="nvidia/HelpSteer2: two responses a prompt with five human ratings each, or a local copy",
    hub_id="nvidia/HelpSteer2",
    splits=("train", "validation"),
    renames=False,
    parse=_parse,
)
