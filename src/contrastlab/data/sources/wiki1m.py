"""wiki1m: the 10^6 English Wikipedia sentences of unsupervised SimCSE (hub: the file `wiki1m_for_simcse.txt` of
`princeton-nlp/datasets-for-simcse`), or a local .txt file, one sentence a line; one split, `train` -> Sentence."""

from contrastlab.data.records.sentence import Sentence
from contrastlab.data.hub import HubSource

SOURCE = HubSource(
    name="wiki1m",
    record=Sentence,
    summary="SimCSE's wiki1m_for_simcse.txt, or a local .txt, one sentence a line",
    hub_id="princeton-nlp/datasets-for-simcse",
    splits=("train",),
    columns={"text": "text", "group": "group"},
    data_files="wiki1m_for_simcse.txt",
    txt=True,
)
