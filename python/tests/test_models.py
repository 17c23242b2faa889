import pytest
import torch

pytestmark = pytest.mark.torch


def test_load_hooked_model_local_folder(hooked_model, tiny_model_dir):
    assert hooked_model.cfg.n_layers == 2
    assert hooked_model.cfg.model_name == tiny_model_dir.name
    assert hooked_model.cfg.normalization_type == "LNPre"
    assert not any(parameter.requires_grad for parameter in hooked_model.parameters())


def test_hooked_log_probs_match_hugging_face(hooked_model, tiny_model_dir):
    from transformers import AutoModelForCausalLM

    from auto_research_probe.models import tokenize_prompt

    hf_model = AutoModelForCausalLM.from_pretrained(tiny_model_dir, local_files_only=True)
    tokens = torch.tensor([tokenize_prompt(hooked_model, "the cat sat on the mat and the dog")])
    with torch.no_grad():
        ours = hooked_model(tokens).log_softmax(dim=-1)
        reference = hf_model(tokens).logits.log_softmax(dim=-1)
    assert (ours - reference).abs().max().item() < 1e-4


def test_tokenize_prompt_single_bos(hooked_model):
    from auto_research_probe.models import prepends_bos, tokenize_prompt

    bos = hooked_model.tokenizer.bos_token_id
    assert prepends_bos(hooked_model)
    plain = tokenize_prompt(hooked_model, "the cat")
    assert plain[0] == bos
    assert plain.count(bos) == 1
    with_text_bos = tokenize_prompt(hooked_model, "<bos> the cat")
    assert with_text_bos == plain


def test_weights_fingerprint_stable_and_sensitive(hooked_model, model_copy):
    from auto_research_probe.models import weights_fingerprint

    original = weights_fingerprint(hooked_model)
    assert weights_fingerprint(model_copy) == original
    with torch.no_grad():
        model_copy.blocks[0].attn.W_Q[0, 0, 0] += 1e-3
    assert weights_fingerprint(model_copy) != original


def test_resolve_model_id(tmp_path):
    from auto_research_probe.models import resolve_model_id

    (tmp_path / "models" / "m").mkdir(parents=True)
    assert resolve_model_id("models/m", tmp_path) == str((tmp_path / "models" / "m").resolve())
    assert resolve_model_id("gpt2", tmp_path) == "gpt2"
    assert resolve_model_id("models/absent", tmp_path) == "models/absent"
    assert resolve_model_id("/abs/path", tmp_path) == "/abs/path"


def test_hub_id_offline_not_cached(monkeypatch, tmp_path):
    from auto_research_probe.models import load_hooked_model

    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "empty-cache"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.chdir(tmp_path)
    import huggingface_hub.constants as constants

    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "empty-cache"))
    with pytest.raises(ValueError, match="not in the local Hugging Face cache"):
        load_hooked_model("gpt2", device="cpu")


def test_folder_without_config_rejected(tmp_path):
    from auto_research_probe.models import load_hooked_model

    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="no config.json"):
        load_hooked_model(str(tmp_path / "empty"), device="cpu")


def test_unknown_dtype_rejected(tiny_model_dir):
    from auto_research_probe.models import load_hooked_model

    with pytest.raises(ValueError, match="float8"):
        load_hooked_model(str(tiny_model_dir), dtype="float8", device="cpu")


def test_unsupported_architecture_named(tmp_path):
    from transformers import BertConfig, BertLMHeadModel

    from auto_research_probe.models import load_hooked_model
    from tiny_model import build_tiny_gpt2

    folder = build_tiny_gpt2(tmp_path / "bert")
    config = BertConfig(vocab_size=24, hidden_size=16, num_hidden_layers=1, num_attention_heads=2, intermediate_size=32, is_decoder=True)
    BertLMHeadModel(config).save_pretrained(folder)
    with pytest.raises(ValueError, match="BertLMHeadModel"):
        load_hooked_model(str(folder), device="cpu")


def test_load_nnsight_model_local(tiny_model_dir, hooked_model):
    from auto_research_probe.models import load_nnsight_model

    model = load_nnsight_model(str(tiny_model_dir))
    assert model.tokenizer is not None
    with model.trace("the cat sat"):
        logits = model.lm_head.output.save()
    assert tuple(logits.shape) == (1, 3, hooked_model.cfg.d_vocab)
