"""Generate python/demo/prompts.jsonl: induction prompts for the demo model.

    uv run --extra attention python python/demo/make_demo_prompts.py

Each line is {"prompt": "w1 ... wn w1 ... wk", "answer": " w(k+1)"}: n distinct words,
then the first k of them again, with 1 <= k < n. Because every word occurs once in the
first copy, the answer is predictable only by copying the word that followed wk there.
The prompt does not contain `<|bos|>`, because TransformerLens prepends it. The output is
the same for the same seed and vocabulary.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

import induction_task

DEMO_DIR = Path(__file__).resolve().parent
DEFAULT_MODEL_DIR = DEMO_DIR / "induction-demo-model"
DEFAULT_PROMPTS_PATH = DEMO_DIR / "prompts.jsonl"
N_PROMPTS = 512
PROMPTS_SEED = 2024
MIN_PROMPT_SPAN_LENGTH = 6
MAX_PROMPT_SPAN_LENGTH = 12


def make_prompts(n_prompts: int = N_PROMPTS, seed: int = PROMPTS_SEED) -> list[dict[str, str]]:
    """Return `n_prompts` prompt/answer pairs built from `induction_task.WORDS`."""
    rng = np.random.default_rng(seed)
    prompts = []
    for _ in range(n_prompts):
        span_length = int(rng.integers(MIN_PROMPT_SPAN_LENGTH, MAX_PROMPT_SPAN_LENGTH + 1))
        span = induction_task.sample_span(rng, induction_task.WORDS, span_length)
        n_repeated = int(rng.integers(1, span_length))
        prompt = " ".join(span + span[:n_repeated])
        prompts.append({"prompt": prompt, "answer": " " + span[n_repeated]})
    return prompts


def check_single_token_answers(prompts: list[dict[str, str]], tokenizer) -> None:
    """Raise ValueError unless each answer is one known token and no prompt contains BOS or UNK."""
    for line_number, example in enumerate(prompts, start=1):
        answer_ids = tokenizer.encode(example["answer"], add_special_tokens=False)
        if len(answer_ids) != 1 or answer_ids[0] == tokenizer.unk_token_id:
            raise ValueError(
                f"line {line_number}: answer {example['answer']!r} tokenizes to {answer_ids}, "
                "expected one word token"
            )
        prompt_ids = tokenizer.encode(example["prompt"], add_special_tokens=False)
        if tokenizer.bos_token_id in prompt_ids or tokenizer.unk_token_id in prompt_ids:
            raise ValueError(
                f"line {line_number}: prompt {example['prompt']!r} contains BOS or UNK"
            )


def write_prompts(model_dir: Path, prompts_path: Path) -> None:
    """Generate the prompts, check them against the tokenizer saved in `model_dir`, write JSONL."""
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(model_dir, local_files_only=True)
    prompts = make_prompts()
    check_single_token_answers(prompts, tokenizer)
    lines = [json.dumps(example, ensure_ascii=False) + "\n" for example in prompts]
    prompts_path.write_text("".join(lines), encoding="utf-8")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--model-dir",
        type=Path,
        default=DEFAULT_MODEL_DIR,
        help="model folder whose tokenizer is used to check that every answer is one token",
    )
    parser.add_argument("--out", type=Path, default=DEFAULT_PROMPTS_PATH, help="JSONL file to write")
    args = parser.parse_args()
    write_prompts(args.model_dir, args.out)
    print(f"wrote {N_PROMPTS} prompts to {args.out}")


if __name__ == "__main__":
    main()
