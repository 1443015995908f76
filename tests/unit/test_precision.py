"""The one precision policy (`models.precision`): trained weights in float32, frozen ones at `model.dtype`, and every
forward compared with the policy's under the same autocast. The runs that show it end to end are in
tests/integration/test_precision_runs.py."""

from __future__ import annotations

import pytest
import torch
import transformers
from conftest import compose

from contrastlab.app.plan import resolve_hardware
from contrastlab.config.validate import validate
from contrastlab.errors import UserError
from contrastlab.models.loading import load_model, load_tokenizer
from contrastlab.models.precision import compute, fp32_masters, weight_dtype


def _tiny(overrides: list[str]):
    cfg = compose(["model=tiny", "name=test", *overrides])
    hw = resolve_hardware(cfg.hardware)
    tokenizer = load_tokenizer(cfg.model)
    transformers.set_seed(0)
    return cfg, hw, tokenizer, load_model(cfg.model, hw, tokenizer)


@pytest.mark.parametrize("precision", ["bf16", "fp16"])
def test_trained_weights_are_float32_and_frozen_ones_follow_the_hardware(precision):
    cfg = compose(["model=tiny", f"hardware.precision={precision}"])
    half = {"bf16": torch.bfloat16, "fp16": torch.float16}[precision]
    assert weight_dtype(cfg.model, cfg.hardware, trained=True) == torch.float32
    assert weight_dtype(cfg.model, cfg.hardware, trained=False) == half  # model.dtype=auto
    lora = compose(["model=smollm2", f"hardware.precision={precision}", "model.dtype=float32"])
    assert weight_dtype(lora.model, lora.hardware, trained=False) == torch.float32  # the user's choice stands


def test_bf16_full_fine_tuning_loads_float32_weights():
    _, _, _, model = _tiny(["hardware.precision=bf16"])  # model.dtype=auto; model=tiny trains every weight
    assert {p.dtype for p in model.parameters()} == {torch.float32}


def test_a_half_model_dtype_with_full_fine_tuning_is_refused():
    with pytest.raises(UserError, match=r"model.dtype=bfloat16 stores the weights in half precision.*model.dtype=auto"):
        validate(compose(["model=tiny", "name=test", "model.dtype=bfloat16", "hardware.precision=bf16"]))
    validate(compose(["model=smollm2", "name=test", "model.dtype=bfloat16", "hardware.precision=bf16"]))  # LoRA


def test_fp16_full_fine_tuning_unscales_its_gradients():
    """A gradient scaler unscales fp32 gradients only: with fp16 weights (the old `model.dtype=auto` under
    `hardware.precision=fp16`) `unscale_` raised "Attempting to unscale FP16 gradients" at the first clip."""
    _, _, tokenizer, model = _tiny(["hardware.precision=fp16"])
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
    scaler = torch.amp.GradScaler("cpu")
    ids = torch.tensor([tokenizer("a fine film, warm and funny").input_ids])
    with torch.autocast("cpu", dtype=torch.float16):
        loss = model(input_ids=ids, labels=ids).loss
    scaler.scale(loss).backward()
    scaler.unscale_(optimizer)
    torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
    scaler.step(optimizer)
    scaler.update()
    assert torch.isfinite(loss)
    assert all(not torch.equal(before[n], p) for n, p in model.named_parameters())


def test_a_head_trained_beside_a_lora_adapter_gets_a_float32_master():
    """PEFT copies a head it trains (`modules_to_save`: the reward model's score head) in the base's dtype."""
    from peft import LoraConfig, get_peft_model

    cfg = compose(["model=tiny", "hardware.precision=bf16"])
    hw = resolve_hardware(cfg.hardware)
    transformers.set_seed(0)
    base = load_model(cfg.model, hw, load_tokenizer(cfg.model), head="score", trained=False)
    model = get_peft_model(base, LoraConfig(r=2, target_modules=["q_proj"], task_type="SEQ_CLS"))
    half = [n for n, p in model.named_parameters() if p.requires_grad and p.dtype != torch.float32]
    assert half and all("score" in n for n in half)
    assert sorted(fp32_masters(model, hw)) == sorted(half)
    assert {p.dtype for p in model.parameters() if p.requires_grad} == {torch.float32}
    assert {p.dtype for p in model.parameters() if not p.requires_grad} == {torch.bfloat16}  # the frozen base


def test_compute_is_the_autocast_of_the_hardware():
    bf16 = resolve_hardware(compose(["hardware.precision=bf16"]).hardware)
    with compute(bf16):
        assert torch.is_autocast_enabled("cpu") and torch.get_autocast_dtype("cpu") == torch.bfloat16
    with compute(resolve_hardware(compose([]).hardware)):
        assert not torch.is_autocast_enabled("cpu")


def test_our_trainers_reference_computes_under_the_policys_autocast(tmp_path):
    """The frozen copy is not the prepared model whose forward accelerate wraps in autocast: a reference computed in
    float32 against a policy in bf16 gave a non-zero log-ratio at step 1 (TRL's DPO gives 0)."""
    import transformers as tf

    from contrastlab.objectives.trainers.preference import PreferenceTrainer, SequenceLoss
    from contrastlab.objectives.trainers.sequences import SequenceCollator

    _, _, tokenizer, model = _tiny(["hardware.precision=bf16"])
    seen = []
    ref = type(model)(model.config)
    ref.load_state_dict(model.state_dict())
    ref.register_forward_pre_hook(lambda module, args: seen.append(torch.is_autocast_enabled("cpu")))
    args = tf.TrainingArguments(output_dir=str(tmp_path), use_cpu=True, bf16=True, report_to="none")
    trainer = PreferenceTrainer(model=model, args=args, data_collator=SequenceCollator(tokenizer.pad_token_id, 32),
                                loss=SequenceLoss(lambda batch: (batch.logps.sum(), {})), uses_reference=True,
                                ref_model=ref)  # fmt: skip
    ids = tokenizer("a fine film").input_ids
    batch = trainer.data_collator([{"ids": [ids, ids], "starts": [1, 1]}])
    trainer.reference_logps(batch)
    assert seen == [True]


def test_grad_cache_embeds_under_the_trainers_autocast(tmp_path):
    import transformers as tf

    from contrastlab.models.embedders import load_embedder
    from contrastlab.objectives.losses.infonce import info_nce
    from contrastlab.objectives.trainers.embedding import ContrastiveModel, EmbeddingTrainer, LossHead, TextCollator

    cfg = compose(["objective=infonce", "model=tiny_encoder", "hardware.precision=bf16"])
    transformers.set_seed(0)
    embedder = load_embedder(cfg.model, resolve_hardware(cfg.hardware))
    seen = []
    embedder.register_forward_pre_hook(lambda module, args, kwargs: seen.append(torch.is_autocast_enabled("cpu")),
                                       with_kwargs=True)  # fmt: skip
    model = ContrastiveModel(embedder, LossHead(info_nce, temperature=0.05))
    args = tf.TrainingArguments(output_dir=str(tmp_path), use_cpu=True, bf16=True, report_to="none")
    trainer = EmbeddingTrainer(model=model, args=args, mini_batch_size=2)
    trainer.current_gradient_accumulation_steps = 1  # set by train() for each step
    rows = [{"anchor": f"a sentence {i}", "positive": f"the sentence {i}"} for i in range(4)]
    trainer.training_step(model, TextCollator(embedder, 16)(rows))
    assert seen and all(seen)
