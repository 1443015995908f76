"""nli: AllNLI triplets (hub, `sentence-transformers/all-nli`, subset `triplet`), or a local copy in its schema.

`anchor`, `positive` (an entailment), `negative` (a contradiction); splits `train`, `dev`, `test` -> SentencePair
with a hard negative. `data.columns` renames the schema's columns.
"""

from contrastlab.data.records.sentence_pair import SentencePair
from contrastlab.data.hub import HubSource

SOURCE = HubSource(
    name="nli",
    record=SentencePair,
    summary="sentence-transformers/all-nli triplets, or a local copy in its schema",
    hub_id="sentence-transformers/all-nli",
    splits=("train", "dev", "test"),
    columns={"anchor": "anchor", "positive": "positive", "negative": "negative", "group": "group"},
    subset="triplet",
)
