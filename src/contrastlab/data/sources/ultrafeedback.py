"""ultrafeedback: UltraFeedback binarized (hub, `HuggingFaceH4/ultrafeedback_binarized`), or a local copy.

Columns `prompt`, `prompt_id`, `chosen` and `rejected` (message lists that include the user turn), `messages`,
`score_chosen`, `score_rejected`; splits `train_prefs`, `test_prefs`. The prompt is the messages chosen and rejected
share; the scores are kept; `prompt_id` is the group.
"""

from contrastlab.data.records.preference_pair import PreferencePair
from contrastlab.data.hub import HubSource

SOURCE = HubSource(
    name="ultrafeedback",
    record=PreferencePair,
    summary="HuggingFaceH4/ultrafeedback_binarized message lists with GPT-4 scores, or a local copy",
    hub_id="HuggingFaceH4/ultrafeedback_binarized",
    splits=("train_prefs", "test_prefs"),
    fmt="conversational",
    columns={"prompt": None, "chosen": "chosen", "rejected": "rejected", "score_chosen": "score_chosen",
             "score_rejected": "score_rejected", "group": "prompt_id"},
)
