"""Measure the saved induction demo model: held-out loss, head scores and prompt accuracy.

Run on a saved model folder, this prints the measurements as JSON:

    uv run --extra attention python python/demo/evaluate_demo_model.py

The training script imports these functions to write the numbers into the model README.
Loading never touches the network: the folder is read with `local_files_only=True`.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

import numpy as np
import torch

import induction_task

# The demo is measured with the same TransformerLens loader that the generated probe
# scripts use, so the runtime package next to this folder must be importable.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from auto_research_probe.models import load_hooked_model  # noqa: E402

DEMO_DIR = Path(__file__).resolve().parent
DEFAULT_MODEL_DIR = DEMO_DIR / "induction-demo-model"
DEFAULT_PROMPTS_PATH = DEMO_DIR / "prompts.jsonl"

EVALUATION_SEED = 1234
HEAD_SCORE_SPAN_LENGTH = 12
HEAD_SCORE_BATCH_SIZE = 64


def load_hf_model(model_dir: Path):
    """Load the model and tokenizer from `model_dir` with Hugging Face transformers, offline.

    Eager attention is requested because the SDPA path does not return attention weights.
    """
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(model_dir, local_files_only=True)
    model = AutoModelForCausalLM.from_pretrained(
        model_dir, local_files_only=True, attn_implementation="eager"
    )
    model.eval()
    return model, tokenizer


def held_out_losses(model, tokenizer, n_sequences: int = 512) -> dict[str, float]:
    """Mean next-token loss (nats) on held-out BOS + span + span sequences, split by copy.

    `first_copy` averages over the tokens of the first span, which nothing earlier
    predicts. `repeated_copy` averages over the second span except its first token, which
    gives no sign that a repeat starts there. Every token of `repeated_copy` can be copied.
    """
    rng = np.random.default_rng(EVALUATION_SEED)
    word_ids = induction_task.word_token_ids(tokenizer)
    first_losses: list[torch.Tensor] = []
    repeated_losses: list[torch.Tensor] = []
    for span_length in range(induction_task.MIN_SPAN_LENGTH, induction_task.MAX_SPAN_LENGTH + 1):
        batch_size = math.ceil(
            n_sequences / (induction_task.MAX_SPAN_LENGTH - induction_task.MIN_SPAN_LENGTH + 1)
        )
        input_ids = induction_task.repeated_span_batch(
            rng, word_ids, tokenizer.bos_token_id, batch_size, span_length
        )
        with torch.no_grad():
            logits = model(input_ids).logits
        # The logits at position p predict the token at p + 1.
        token_losses = torch.nn.functional.cross_entropy(
            logits[:, :-1].transpose(1, 2), input_ids[:, 1:], reduction="none"
        )
        # Target position t is index t - 1 of token_losses.
        first_losses.append(token_losses[:, 0:span_length].flatten())
        repeated_losses.append(token_losses[:, span_length + 1 : 2 * span_length].flatten())
    return {
        "first_copy": torch.cat(first_losses).mean().item(),
        "repeated_copy": torch.cat(repeated_losses).mean().item(),
        "uniform_baseline": math.log(len(induction_task.WORDS)),
    }


def head_score_batch(tokenizer) -> torch.Tensor:
    """Return the fixed BOS + span + span batch that all head scores are measured on."""
    rng = np.random.default_rng(EVALUATION_SEED + 1)
    return induction_task.repeated_span_batch(
        rng,
        induction_task.word_token_ids(tokenizer),
        tokenizer.bos_token_id,
        HEAD_SCORE_BATCH_SIZE,
        HEAD_SCORE_SPAN_LENGTH,
    )


def hf_head_scores(model, tokenizer) -> dict[str, list[float]]:
    """Previous-token scores of layer-0 heads and induction scores of layer-1 heads, via transformers."""
    input_ids = head_score_batch(tokenizer)
    with torch.no_grad():
        attentions = model(input_ids, output_attentions=True).attentions
    return {
        "previous_token_layer0": induction_task.previous_token_scores(attentions[0]).tolist(),
        "induction_layer1": induction_task.induction_scores(
            attentions[1], HEAD_SCORE_SPAN_LENGTH
        ).tolist(),
    }


def hooked_head_scores(hooked_model, tokenizer) -> dict[str, list[float]]:
    """Compute the scores of `hf_head_scores` from TransformerLens `hook_pattern` activations.

    The batch already starts with BOS, so it is passed as token ids and TransformerLens
    adds nothing.
    """
    input_ids = head_score_batch(tokenizer)
    with torch.no_grad():
        _, cache = hooked_model.run_with_cache(
            input_ids, names_filter=lambda name: name.endswith("hook_pattern")
        )
    return {
        "previous_token_layer0": induction_task.previous_token_scores(
            cache["pattern", 0]
        ).tolist(),
        "induction_layer1": induction_task.induction_scores(
            cache["pattern", 1], HEAD_SCORE_SPAN_LENGTH
        ).tolist(),
    }


def read_prompts(prompts_path: Path) -> list[dict[str, str]]:
    """Read the prompts JSONL file: one {"prompt": ..., "answer": ...} object a line."""
    with prompts_path.open(encoding="utf-8") as prompts_file:
        return [json.loads(line) for line in prompts_file if line.strip()]


def hooked_prompt_accuracy(hooked_model, prompts: list[dict[str, str]]) -> float:
    """Return the fraction of prompts whose top-1 next token after the whole prompt is the answer's first token.

    TransformerLens prepends BOS to each prompt string. Prompts of equal token length are
    batched together, so no padding is involved.
    """
    by_length: dict[int, list[tuple[torch.Tensor, int]]] = {}
    for example in prompts:
        tokens = hooked_model.to_tokens(example["prompt"])[0]
        answer_token = hooked_model.to_tokens(example["answer"], prepend_bos=False)[0, 0].item()
        by_length.setdefault(len(tokens), []).append((tokens, answer_token))

    n_correct = 0
    for examples in by_length.values():
        tokens = torch.stack([prompt_tokens for prompt_tokens, _ in examples])
        answers = torch.tensor([answer_token for _, answer_token in examples])
        with torch.no_grad():
            logits = hooked_model(tokens)
        n_correct += int((logits[:, -1].argmax(dim=-1) == answers).sum())
    return n_correct / len(prompts)


def evaluate(model_dir: Path, prompts_path: Path | None) -> dict:
    """Run every measurement on the saved folder and return the numbers as a dict."""
    hf_model, tokenizer = load_hf_model(model_dir)
    hooked_model = load_hooked_model(str(model_dir), device="cpu")
    results = {
        "held_out_loss": held_out_losses(hf_model, tokenizer),
        "hf_head_scores": hf_head_scores(hf_model, tokenizer),
        "transformer_lens_head_scores": hooked_head_scores(hooked_model, tokenizer),
        "transformer_lens_bos_token": hooked_model.to_str_tokens("apple")[0],
    }
    if prompts_path is not None:
        prompts = read_prompts(prompts_path)
        results["prompt_accuracy"] = hooked_prompt_accuracy(hooked_model, prompts)
        results["n_prompts"] = len(prompts)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--model-dir", type=Path, default=DEFAULT_MODEL_DIR, help="saved model folder to measure"
    )
    parser.add_argument(
        "--prompts",
        type=Path,
        default=DEFAULT_PROMPTS_PATH,
        help="prompts JSONL file to measure top-1 accuracy on",
    )
    args = parser.parse_args()
    print(json.dumps(evaluate(args.model_dir, args.prompts), indent=2))


if __name__ == "__main__":
    main()
