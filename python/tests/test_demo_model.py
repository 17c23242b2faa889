"""Check the committed induction demo model and its prompts file.

These tests read python/demo/induction-demo-model and python/demo/prompts.jsonl as
committed, offline, with plain transformers, and recompute the head scores here instead of
importing the demo scripts, so a bug in the training script cannot hide itself.
"""

from __future__ import annotations

import hashlib
import json
import math
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

DEMO_DIR = Path(__file__).resolve().parents[1] / "demo"
MODEL_DIR = DEMO_DIR / "induction-demo-model"
PROMPTS_PATH = DEMO_DIR / "prompts.jsonl"
SPECIAL_TOKENS = {"<|bos|>", "<|eos|>", "<|pad|>", "<|unk|>"}
# Within the span lengths the model was trained on (induction_task: 6 to 12 words).
SPAN_LENGTH = 12
BATCH_SIZE = 32


@pytest.fixture(autouse=True)
def offline(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("TRANSFORMERS_OFFLINE", "1")


@pytest.fixture(scope="module")
def tokenizer():
    return transformers.AutoTokenizer.from_pretrained(MODEL_DIR, local_files_only=True)


@pytest.fixture(scope="module")
def model():
    loaded = transformers.AutoModelForCausalLM.from_pretrained(
        MODEL_DIR, local_files_only=True, attn_implementation="eager"
    )
    loaded.eval()
    return loaded


@pytest.fixture(scope="module")
def word_ids(tokenizer):
    return sorted(index for token, index in tokenizer.get_vocab().items() if token not in SPECIAL_TOKENS)


def repeated_batch(word_ids, bos_id, batch_size=BATCH_SIZE, span_length=SPAN_LENGTH, seed=0):
    """Return BOS + span of distinct words + the same span, for each row."""
    generator = torch.Generator().manual_seed(seed)
    rows = []
    for _ in range(batch_size):
        permutation = torch.randperm(len(word_ids), generator=generator)[:span_length]
        span = [word_ids[index] for index in permutation.tolist()]
        rows.append([bos_id, *span, *span])
    return torch.tensor(rows)


def test_sha256sums_match_files():
    lines = (MODEL_DIR / "SHA256SUMS").read_text(encoding="utf-8").splitlines()
    listed = {}
    for line in lines:
        digest, name = line.split("  ", 1)
        listed[name] = digest

    assert {"config.json", "model.safetensors", "tokenizer.json", "README.md"} <= listed.keys()
    for name, digest in listed.items():
        actual = hashlib.sha256((MODEL_DIR / name).read_bytes()).hexdigest()
        assert actual == digest, f"{name}: sha256 {actual} does not match SHA256SUMS"


def test_model_files_are_small():
    total = sum(path.stat().st_size for path in MODEL_DIR.iterdir())
    assert total < 2_000_000


def test_tokenizer_special_tokens(tokenizer):
    assert tokenizer.bos_token == "<|bos|>"
    assert tokenizer.eos_token == "<|eos|>"
    assert tokenizer.pad_token == "<|pad|>"
    assert tokenizer.unk_token == "<|unk|>"
    text = " ".join(tokenizer.convert_ids_to_tokens([4, 5]))
    assert tokenizer.encode(text, add_special_tokens=True) == tokenizer.encode(
        text, add_special_tokens=False
    ), "the tokenizer must not add BOS itself, because TransformerLens prepends it"
    assert tokenizer.encode(text) == [4, 5]
    assert tokenizer.decode(tokenizer.encode(text)) == text


def test_model_config(model, tokenizer):
    config = model.config
    assert config.model_type == "gpt2"
    assert config.n_layer == 2
    assert config.n_head == 4
    assert config.vocab_size == len(tokenizer)
    assert config.bos_token_id == tokenizer.bos_token_id
    # TransformerLens 3.5.1 reads n_ctx from the GPT-2 config.
    assert config.n_ctx == config.n_positions


def test_repeated_copy_loss_far_below_first_copy(model, tokenizer, word_ids):
    input_ids = repeated_batch(word_ids, tokenizer.bos_token_id, seed=1)
    with torch.no_grad():
        logits = model(input_ids).logits
    token_losses = torch.nn.functional.cross_entropy(
        logits[:, :-1].transpose(1, 2), input_ids[:, 1:], reduction="none"
    )
    first_copy_loss = token_losses[:, :SPAN_LENGTH].mean().item()
    # The first token of the second copy is not predictable, so it is left out.
    repeated_copy_loss = token_losses[:, SPAN_LENGTH + 1 :].mean().item()

    assert first_copy_loss > 0.5 * math.log(len(word_ids))
    assert repeated_copy_loss < 0.3
    assert repeated_copy_loss < first_copy_loss / 5


def test_previous_token_and_induction_heads(model, tokenizer, word_ids):
    input_ids = repeated_batch(word_ids, tokenizer.bos_token_id, seed=2)
    with torch.no_grad():
        attentions = model(input_ids, output_attentions=True).attentions
    layer0, layer1 = attentions[0], attentions[1]  # [batch, head, query_pos, key_pos]

    previous_token_scores = layer0.diagonal(offset=-1, dim1=-2, dim2=-1).mean(dim=(0, -1))
    # A second-copy token at query position q first occurred at q - SPAN_LENGTH; the token
    # after that occurrence is at q - SPAN_LENGTH + 1.
    induction_diagonal = layer1.diagonal(offset=-(SPAN_LENGTH - 1), dim1=-2, dim2=-1)
    induction_scores = induction_diagonal[..., -SPAN_LENGTH:].mean(dim=(0, -1))

    assert previous_token_scores.max().item() > 0.5, f"layer-0 scores {previous_token_scores.tolist()}"
    assert induction_scores.max().item() > 0.5, f"layer-1 scores {induction_scores.tolist()}"


def test_prompts_file_lines(tokenizer):
    lines = PROMPTS_PATH.read_text(encoding="utf-8").splitlines()
    assert len(lines) == 512

    for line_number, line in enumerate(lines, start=1):
        example = json.loads(line)
        assert set(example) == {"prompt", "answer"}, f"line {line_number}: keys {sorted(example)}"
        words = example["prompt"].split(" ")
        assert "<|bos|>" not in example["prompt"], f"line {line_number} contains BOS"
        assert example["answer"].startswith(" "), f"line {line_number}: answer without leading space"

        answer_ids = tokenizer.encode(example["answer"], add_special_tokens=False)
        assert len(answer_ids) == 1, f"line {line_number}: answer is {len(answer_ids)} tokens"
        assert answer_ids[0] != tokenizer.unk_token_id, f"line {line_number}: unknown answer"
        prompt_ids = tokenizer.encode(example["prompt"], add_special_tokens=False)
        assert len(prompt_ids) == len(words), f"line {line_number}: a prompt word is not one token"
        assert tokenizer.unk_token_id not in prompt_ids, f"line {line_number}: unknown prompt word"


def test_prompt_answers_follow_by_induction():
    for line_number, line in enumerate(PROMPTS_PATH.read_text(encoding="utf-8").splitlines(), start=1):
        example = json.loads(line)
        words = example["prompt"].split(" ")
        last_word = words[-1]
        first_index = words.index(last_word)

        assert first_index < len(words) - 1, f"line {line_number}: last word occurs only once"
        assert words.count(last_word) == 2, f"line {line_number}: last word is ambiguous"
        assert " " + words[first_index + 1] == example["answer"], f"line {line_number}"


def test_prompt_accuracy(model, tokenizer):
    lines = PROMPTS_PATH.read_text(encoding="utf-8").splitlines()[:128]
    n_correct = 0
    for line in lines:
        example = json.loads(line)
        prompt_ids = tokenizer.encode(example["prompt"], add_special_tokens=False)
        input_ids = torch.tensor([[tokenizer.bos_token_id, *prompt_ids]])
        answer_id = tokenizer.encode(example["answer"], add_special_tokens=False)[0]
        with torch.no_grad():
            prediction = model(input_ids).logits[0, -1].argmax().item()
        n_correct += int(prediction == answer_id)

    assert n_correct / len(lines) > 0.9
