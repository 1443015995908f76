"""hh_rlhf: Anthropic HH-RLHF (hub, `Anthropic/hh-rlhf`), or a local copy in its schema.

Columns `chosen`, `rejected`, each a whole "\\n\\nHuman: ...\\n\\nAssistant: ..." transcript; splits `train`, `test`.
Read in the transcript format: the prompt is every turn before the final reply, chosen/rejected that final reply.
"""

from contrastlab.data.records.preference_pair import PreferencePair
from contrastlab.data.hub import HubSource

SOURCE = HubSource(
    name="hh_rlhf",
    record=PreferencePair,
    summary="Anthropic/hh-rlhf transcripts, or a local copy in its schema",
    hub_id="Anthropic/hh-rlhf",
    splits=("train", "test"),
    fmt="transcript",
    columns={"chosen": "chosen", "rejected": "rejected", "group": "group"},
)
