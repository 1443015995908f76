"""Hub datasets with graded completions, read in their published schema (source=ultrafeedback_ranked, helpsteer2).

- `ultrafeedback_ranked` (`openbmb/UltraFeedback`, one split, `train`): a row is `source`, `instruction`,
  `models`, `completions` (a list of {`model`, `principle`, `custom_system_prompt`, `response`,
  `annotations`, `fine-grained_score`, `overall_score`, `critique`}), `correct_answers`,
  `incorrect_answers` -> Ranked(prompt = instruction, completions = the responses, scores =
  `fine-grained_score`, the mean of GPT-4's four aspect ratings, 1-5). A completion with no score (missing
  or NaN) or an empty response is left out; a row with fewer than two completions left is skipped. The
  group is the prompt. With one split, the held-out set is `data.eval_fraction` of the prompts.
- `helpsteer2` (`nvidia/HelpSteer2`, splits `train`, `validation`): a row is `prompt`, `response` and five
  human ratings 0-4 (`helpfulness`, `correctness`, `coherence`, `complexity`, `verbosity`); consecutive
  rows share a prompt (two responses each, mostly). The rows are grouped by prompt (first-seen order); each
  prompt with two responses or more gives one MultiAttribute of its first two: chosen = the more helpful
  (the first on a tie), scores over the five attributes in that order, as floats. The group is the prompt.

`data.path` is the hub id, a local file in the same schema (.jsonl, .json or .parquet, the text ones may be
.gz; one split), or a local folder read by `datasets.load_dataset`. The schema is read as published:
`data.columns` and `data.format` do not apply. As in `data.hub`, a record that cannot be read is skipped
and counted in a warning (unless data.on_bad_record=error); offline, the hub fails at once (`data.hub.dataset_rows`).
"""

from __future__ import annotations

import os
from collections import Counter
from dataclasses import dataclass

from contrastlab.data.file_records import number
from contrastlab.data.files import BadRecord, Origin, Row, file_kind, no_records, read_rows
from contrastlab.data.hub import dataset_rows, is_local
from contrastlab.data.hub_text import looks_local
from contrastlab.data.records import MultiAttribute, Ranked
from contrastlab.data.sentences import parse_rows
from contrastlab.errors import UserError

HELPSTEER_ATTRIBUTES = ("helpfulness", "correctness", "coherence", "complexity", "verbosity")


@dataclass(frozen=True)
class ScoredSchema:
    """One hub dataset with graded completions."""

    hub_id: str
    record: str  # the record type it gives
    splits: tuple[str, ...]
    columns: tuple[str, ...]  # the columns every row needs


SCORED_SCHEMAS = {
    "ultrafeedback_ranked": ScoredSchema(hub_id="openbmb/UltraFeedback", record=Ranked.__name__, splits=("train",),
                                         columns=("instruction", "completions")),
    "helpsteer2": ScoredSchema(hub_id="nvidia/HelpSteer2", record=MultiAttribute.__name__,
                               splits=("train", "validation"), columns=("prompt", "response") + HELPSTEER_ATTRIBUTES),
}
SCORED_NATIVE = {source: schema.record for source, schema in SCORED_SCHEMAS.items()}


def check_scored_hub(source: str, path: str | None, split: str, eval_split: str | None, fmt: str,
                     columns: dict) -> None:
    """Cheap checks of data.path, data.split, data.eval_split, data.format and data.columns for these sources."""
    schema = SCORED_SCHEMAS[source]
    if not path:
        raise UserError(f"data.path is required for data.source={source}: the hub id (data.path={schema.hub_id}) "
                        "or a local file in its schema (data.path=FILE)")
    local = os.path.expanduser(path)
    if (is_local(path) or looks_local(path)) and not os.path.exists(local):
        raise UserError(f"data.path={path}: no such file; pass an existing .jsonl, .json or .parquet file in the "
                        f"{source} schema, or the hub id (data.path={schema.hub_id})")
    if os.path.isfile(local) and file_kind(local) is None:
        raise UserError(f"data.path={path}: unknown file type; use a .jsonl, .json or .parquet file in the {source} "
                        "schema")
    for option, value in (("data.format", None if fmt == "auto" else fmt), ("data.columns", columns or None)):
        if value is not None:
            raise UserError(f"{option}={value}: data.source={source} is read in the {schema.hub_id} schema as "
                            f"published; drop {option}, or read your own file with data=jsonl")
    if len(schema.splits) == 1 and (split != schema.splits[0] or eval_split is not None):
        option, value = ("data.split", split) if split != schema.splits[0] else ("data.eval_split", eval_split)
        raise UserError(f"{option}={value}: {schema.hub_id} has one split ({schema.splits[0]}); drop {option} and "
                        "hold out data.eval_fraction of it instead")


def _rows(source: str, path: str, split: str, option: str, strict: bool,
          tally: Counter | None) -> tuple[list[Row], Origin]:
    local = os.path.expanduser(path)
    if os.path.isfile(local):
        origin = Origin(path, strict, tally)
        return read_rows(local, origin), origin
    schema, folder = SCORED_SCHEMAS[source], os.path.isdir(local)
    rows = dataset_rows(local if folder else path, split, source=source, splits=schema.splits, option=option,
                        local_folder=folder)
    return rows, Origin(f"{path} split {split}", strict, tally)


def _check_columns(source: str, rows: list[Row], origin: Origin) -> None:
    schema = SCORED_SCHEMAS[source]
    if not rows and origin.skipped:
        raise no_records(origin, "records", f"pass a file in the {source} schema with data.path=FILE")
    if not rows:
        raise UserError(f"{origin.name} holds no records; pass a file in the {source} schema with data.path=FILE")
    row = rows[0]
    missing = [column for column in schema.columns if column not in row.values]
    if missing:
        have = ", ".join(list(row.values)[:10])
        raise UserError(f'{origin.name} {row.where}: no "{missing[0]}" field (it has: {have}); data.source={source} '
                        f"reads the {schema.hub_id} schema ({', '.join(schema.columns)}, ...): pass a file in that "
                        "schema, or read your own with data=jsonl")


def _text(value: object) -> str | None:
    return value if isinstance(value, str) and value.strip() else None


def ultrafeedback_ranked_of(row: Row, origin: Origin) -> Ranked:
    """An openbmb/UltraFeedback row -> Ranked over its responses with a fine-grained score."""
    prompt = _text(row.values.get("instruction"))
    if prompt is None:
        raise BadRecord(f"{origin.name} {row.where}: instruction is empty", "empty instruction")
    completions, scores = [], []
    for completion in row.values.get("completions") or []:
        if not isinstance(completion, dict):
            continue
        response, score = _text(completion.get("response")), number(completion.get("fine-grained_score"))
        if response is not None and score is not None:
            completions.append(response)
            scores.append(score)
    if len(completions) < 2:
        raise BadRecord(f"{origin.name} {row.where}: {len(completions)} scored completion(s), fewer than two",
                        "fewer than two scored completions")
    return Ranked(prompt=prompt, completions=completions, scores=scores, group=prompt)


def helpsteer2_of(rows: list[Row], origin: Origin) -> MultiAttribute:
    """The HelpSteer2 rows of one prompt -> the first two responses, the more helpful chosen (the first on a tie)."""
    first = rows[0]
    if len(rows) < 2:
        raise BadRecord(f"{origin.name} {first.where}: the prompt has one response", "prompt with one response")
    sides = []
    for row in rows[:2]:
        response = _text(row.values.get("response"))
        scores = {name: number(row.values.get(name)) for name in HELPSTEER_ATTRIBUTES}
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


def _by_prompt(rows: list[Row], origin: Origin) -> list[Row]:
    """One row per prompt (first-seen order) holding its rows, where the first of them is; a row with an empty
    prompt is a bad record of `origin`."""
    prompts: dict[str, list[Row]] = {}
    for row in rows:
        prompt = _text(row.values.get("prompt"))
        if prompt is None:
            origin.skip(BadRecord(f"{origin.name} {row.where}: prompt is empty", "empty prompt"))
        else:
            prompts.setdefault(prompt, []).append(row)
    return [Row(group[0].where, {"rows": group}) for group in prompts.values()]


def load_scored_split(source: str, path: str, split: str, columns: dict | None = None, option: str = "data.split",
                      strict: bool = False, tally: Counter | None = None) -> list:
    """Records of one split of a graded hub dataset (or of a local copy in its schema): Ranked or MultiAttribute. A
    record it cannot read is skipped and counted (also in `tally`), or stops the run when `strict`."""
    rows, origin = _rows(source, path, split, option, strict, tally)
    _check_columns(source, rows, origin)
    if source == "ultrafeedback_ranked":
        return parse_rows(rows, lambda row, cols, where: ultrafeedback_ranked_of(row, where), {}, origin,
                          "ranked lists")
    return parse_rows(_by_prompt(rows, origin), lambda row, cols, where: helpsteer2_of(row.values["rows"], where),
                      {}, origin, "multi-attribute pairs")
