"""Train the induction demo model: a two-layer GPT-2 that copies repeated word spans.

    uv run --extra attention python python/demo/train_demo_model.py

The script trains on sequences it generates (see `induction_task`), with no downloads.
It then saves the model and its word-level tokenizer with `save_pretrained` (safetensors)
and regenerates the prompts file. Last, it measures the saved folder with
`evaluate_demo_model` and writes README.md and SHA256SUMS into the folder.

Training is deterministic for a given seed, torch build, CPU type and thread count: data
come from a seeded NumPy generator, weights from a seeded torch generator, and torch runs
with `use_deterministic_algorithms(True)`. The CPU reduction order can depend on the
thread count, so `--threads` is part of the recipe.
"""

from __future__ import annotations

import argparse
import hashlib
import math
import platform
import time
from pathlib import Path

import numpy as np
import torch

import evaluate_demo_model
import induction_task
import make_demo_prompts

DEMO_DIR = Path(__file__).resolve().parent
REGENERATE_COMMAND = "uv run --extra attention python python/demo/train_demo_model.py"

D_MODEL = 64
N_LAYERS = 2
N_HEADS = 4
N_POSITIONS = 64
BATCH_SIZE = 64
LEARNING_RATE = 1e-3
WEIGHT_DECAY = 0.0
# Weight of a group-lasso penalty on the heads' outputs: the mean Euclidean norm of each
# head's write into the residual stream (its z times its slice of W_O), summed over heads.
# Without it the four layer-1 heads each learned a quarter of the induction job, so no head
# stood out and "the induction head" of the demo was ill-defined. The penalty makes spare
# heads cheaper to switch off than to keep, so one head per job carries most of the effect
# (group lasso: Yuan & Lin 2006).
HEAD_OUTPUT_PENALTY = 0.15
INITIALIZER_RANGE = 0.02
# The position embeddings are fixed sinusoids (Vaswani et al. 2017) scaled to 0.1 and
# frozen. Learned GPT-2 position embeddings start as noise, and in our runs the model then
# found position-offset shortcuts for the repeat instead of a previous-token head. With
# sinusoids "the position before mine" is a fixed linear map from the start, and the
# previous-token and induction heads formed within 500 steps. The scale keeps the
# positions from drowning the token embeddings (standard deviation 0.02).
POSITION_EMBEDDING_SCALE = 0.1
# Files that save_pretrained writes and the README lists with their sha256.
CHECKSUMMED_FILES = [
    "config.json",
    "generation_config.json",
    "model.safetensors",
    "tokenizer.json",
    "tokenizer_config.json",
    "special_tokens_map.json",
]


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--out",
        type=Path,
        default=DEMO_DIR / "induction-demo-model",
        help="folder to write the model, tokenizer, README.md and SHA256SUMS into",
    )
    parser.add_argument(
        "--prompts-out",
        type=Path,
        default=make_demo_prompts.DEFAULT_PROMPTS_PATH,
        help="prompts JSONL file to regenerate and measure accuracy on",
    )
    parser.add_argument("--steps", type=int, default=2500, help="optimizer steps")
    parser.add_argument("--seed", type=int, default=0, help="seed for weights and training data")
    parser.add_argument(
        "--threads",
        type=int,
        default=1,
        help="torch CPU threads; results are bitwise reproducible only with the same count",
    )
    parser.add_argument(
        "--log-every", type=int, default=250, help="print the mean training loss every N steps"
    )
    return parser.parse_args()


def make_deterministic(seed: int, threads: int) -> None:
    torch.manual_seed(seed)
    torch.set_num_threads(threads)
    torch.use_deterministic_algorithms(True)


def build_model(vocab_size: int, tokenizer):
    """Build an untrained GPT-2 with dropout off.

    `n_ctx` is not a GPT2Config field in transformers 5, but TransformerLens 3.5.1 reads
    `hf_config.n_ctx` when it maps a GPT-2 config, so it is stored in config.json too.
    The MLP keeps GPT-2's default width of 4 * d_model, because that TransformerLens
    mapping assumes it.
    """
    from transformers import GPT2Config, GPT2LMHeadModel

    config = GPT2Config(
        vocab_size=vocab_size,
        n_positions=N_POSITIONS,
        n_ctx=N_POSITIONS,
        n_embd=D_MODEL,
        n_layer=N_LAYERS,
        n_head=N_HEADS,
        resid_pdrop=0.0,
        embd_pdrop=0.0,
        attn_pdrop=0.0,
        initializer_range=INITIALIZER_RANGE,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )
    config._attn_implementation = "eager"
    model = GPT2LMHeadModel(config)
    with torch.no_grad():
        model.transformer.wpe.weight.copy_(sinusoidal_positions(N_POSITIONS, D_MODEL) * POSITION_EMBEDDING_SCALE)
    model.transformer.wpe.weight.requires_grad_(False)
    return model


def sinusoidal_positions(n_positions: int, d_model: int) -> torch.Tensor:
    """Sine and cosine position codes, with wavelengths from 2*pi up to 2*pi*n_positions."""
    positions = torch.arange(n_positions, dtype=torch.float32)[:, None]
    even_dims = torch.arange(0, d_model, 2, dtype=torch.float32)
    frequencies = torch.exp(-math.log(float(n_positions)) * even_dims / d_model)
    codes = torch.zeros(n_positions, d_model)
    codes[:, 0::2] = torch.sin(positions * frequencies)
    codes[:, 1::2] = torch.cos(positions * frequencies)
    return codes


def train(model, tokenizer, steps: int, seed: int, log_every: int) -> float:
    """Train `model` in place for `steps` steps and return the wall time in seconds."""
    rng = np.random.default_rng(seed)
    word_ids = induction_task.word_token_ids(tokenizer)
    trainable = [parameter for parameter in model.parameters() if parameter.requires_grad]
    optimizer = torch.optim.AdamW(trainable, lr=LEARNING_RATE, weight_decay=WEIGHT_DECAY)
    model.train()
    head_inputs: list[torch.Tensor] = []
    hooks = [
        block.attn.c_proj.register_forward_pre_hook(lambda module, inputs: head_inputs.append(inputs[0]))
        for block in model.transformer.h
    ]
    start = time.perf_counter()
    running_loss = 0.0
    for step in range(steps):
        head_inputs.clear()
        sequences = [
            induction_task.sample_training_sequence(rng, word_ids, tokenizer.bos_token_id)
            for _ in range(BATCH_SIZE)
        ]
        input_ids, labels = induction_task.pad_batch(sequences, tokenizer.pad_token_id)
        lm_loss = model(input_ids, labels=labels).loss
        loss = lm_loss + HEAD_OUTPUT_PENALTY * head_output_norms(model, head_inputs, labels != -100)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(trainable, 1.0)
        optimizer.step()

        running_loss += lm_loss.item()
        if (step + 1) % log_every == 0 or step + 1 == steps:
            n_logged = (step % log_every) + 1
            elapsed = time.perf_counter() - start
            print(
                f"step {step + 1}/{steps}  loss {running_loss / n_logged:.4f}  "
                f"{elapsed:.0f} s",
                flush=True,
            )
            running_loss = 0.0
    for hook in hooks:
        hook.remove()
    model.eval()
    return time.perf_counter() - start


def head_output_norms(model, head_inputs: list[torch.Tensor], mask: torch.Tensor) -> torch.Tensor:
    """Sum over layers and heads of the mean norm of each head's output at the unpadded positions.

    `head_inputs` holds, per block, the input of the attention's output projection `c_proj`:
    the heads' z vectors side by side, [batch, pos, n_heads * d_head]. A GPT-2 `Conv1D`
    weight is [in, out], so rows h * d_head .. (h + 1) * d_head belong to head h.
    """
    d_head = D_MODEL // N_HEADS
    weight = mask.float()
    total = torch.zeros(())
    for block, z in zip(model.transformer.h, head_inputs):
        projection = block.attn.c_proj.weight
        for head in range(N_HEADS):
            rows = slice(head * d_head, (head + 1) * d_head)
            norms = (z[..., rows] @ projection[rows, :]).norm(dim=-1)
            total = total + (norms * weight).sum() / weight.sum()
    return total


def sha256_of(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def format_scores(scores: list[float]) -> str:
    return " | ".join(f"{score:.3f}" for score in scores)


def write_readme(out_dir: Path, prompts_path: Path, args, n_parameters: int, train_seconds: float, results: dict) -> None:
    """Write README.md with the recipe, the measured numbers and the file checksums."""
    losses = results["held_out_loss"]
    hf_scores = results["hf_head_scores"]
    lens_scores = results["transformer_lens_head_scores"]
    head_numbers = " | ".join(str(head) for head in range(N_HEADS))
    separator = "|".join(["---"] * (N_HEADS + 2))
    file_rows = "\n".join(
        f"| `{name}` | `{sha256_of(out_dir / name)}` |"
        for name in CHECKSUMMED_FILES
        if (out_dir / name).exists()
    )
    words = ", ".join(induction_task.WORDS)
    text = f"""# induction-demo-model

A two-layer GPT-2 trained only to copy repeated word spans, so that it contains the
circuit described by Elhage et al. (2021) and Olsson et al. (2022): a previous-token
head in layer 0 and an induction head in layer 1 that reads it through K-composition.
auto-research probe uses it as the demo model and as the end-to-end check: logit lens,
attention patterns and patching should find these two heads.

## Load it

Both loaders read this folder offline.

```python
from transformers import AutoModelForCausalLM, AutoTokenizer
tokenizer = AutoTokenizer.from_pretrained(folder, local_files_only=True)
model = AutoModelForCausalLM.from_pretrained(folder, local_files_only=True)
```

The tokenizer does not add `<|bos|>`; TransformerLens prepends it when it tokenizes a
string, and code that calls the Hugging Face model on token ids must prepend it too.
`HookedTransformer.from_pretrained` in TransformerLens 3.5.1 raises for a local folder
because the folder name is not an official model name. `load_hooked_model` in
`python/auto_research_probe/models.py` builds the HookedTransformerConfig from the
folder's config.json, converts the weights with `convert_gpt2_weights` and calls
`load_and_process_state_dict`.

## Architecture

`GPT2LMHeadModel`: {N_LAYERS} layers, {N_HEADS} heads of size {D_MODEL // N_HEADS},
d_model {D_MODEL}, MLP width {4 * D_MODEL} (GELU), {N_POSITIONS} positions, tied
embedding and unembedding, dropout 0, {n_parameters:,} parameters, float32.

## Tokenizer and vocabulary

Word-level (`tokenizers` WordLevel model, Whitespace pre-tokenizer, decoder that joins
tokens with spaces), {len(induction_task.SPECIAL_TOKENS) + len(induction_task.WORDS)} tokens:
ids 0-3 are `<|bos|>`, `<|eos|>`, `<|pad|>`, `<|unk|>`; ids 4-{3 + len(induction_task.WORDS)}
are these {len(induction_task.WORDS)} words, in order:

{words}.

A word outside this list becomes `<|unk|>`.

## Training data and steps

{induction_task.ALTERNATING_FRACTION:.0%} of the sequences are `<|bos|>` and two random words
alternating ({induction_task.MIN_ALTERNATING_LENGTH}-{induction_task.MAX_ALTERNATING_LENGTH} tokens), which rewards a previous-token head early.
The rest are `<|bos|>`, a random prefix of 0-{induction_task.MAX_PREFIX_LENGTH} words, a span of
{induction_task.MIN_SPAN_LENGTH}-{induction_task.MAX_SPAN_LENGTH} random words, a gap of 0-{induction_task.MAX_GAP_LENGTH} random words, then the same span again.
All words are drawn with replacement from the {len(induction_task.WORDS)}-word vocabulary. Sequences are
sampled fresh at every step and right-padded with `<|pad|>`, and the loss ignores padding.
Within a span sequence, only the second copy can be predicted better than chance, and only
by copying from the first.

The position embeddings are fixed sinusoids scaled to {POSITION_EMBEDDING_SCALE} and frozen, so that "the
previous position" is easy to attend to from the start; with learned position embeddings
our runs found position-offset shortcuts instead of the two heads.

{args.steps} AdamW steps, batch {BATCH_SIZE}, constant learning rate {LEARNING_RATE}, weight decay
{WEIGHT_DECAY}, gradient norm clipped to 1, seed {args.seed}, {args.threads} torch threads. The loss adds
{HEAD_OUTPUT_PENALTY} times the summed mean norm of each head's output (a group-lasso penalty),
so that one head per job carries most of the effect instead of four equal ones. Training took
{train_seconds:.0f} s on {platform.machine()} CPU with torch {torch.__version__}.

Regenerate this folder and `python/demo/prompts.jsonl` (from the repository root):

```
{REGENERATE_COMMAND}
```

The same seed, torch build, CPU type and thread count give the same weights.

## Measurements

Measured by `python/demo/evaluate_demo_model.py` on the saved folder.

Held-out loss (nats per token), on sequences of `<|bos|>` + span + the same span with no
prefix or gap, span lengths {induction_task.MIN_SPAN_LENGTH}-{induction_task.MAX_SPAN_LENGTH}, data seed {evaluate_demo_model.EVALUATION_SEED}:

| tokens | loss |
|---|---|
| first copy | {losses["first_copy"]:.3f} |
| repeated copy, without its first token | {losses["repeated_copy"]:.3f} |
| uniform over the {len(induction_task.WORDS)} words (ln {len(induction_task.WORDS)}) | {losses["uniform_baseline"]:.3f} |

Head scores on {evaluate_demo_model.HEAD_SCORE_BATCH_SIZE} sequences of `<|bos|>` + {evaluate_demo_model.HEAD_SCORE_SPAN_LENGTH} distinct
words + the same {evaluate_demo_model.HEAD_SCORE_SPAN_LENGTH} words. The previous-token score of a layer-0 head is its
mean attention from position i to i - 1. The induction score of a layer-1 head is its
mean attention from each second-copy token to the token after that token's first
occurrence. A head that attends uniformly scores about 1/position.

| score | source | {head_numbers} |
|{separator}|
| previous-token, layer 0 | transformers | {format_scores(hf_scores["previous_token_layer0"])} |
| previous-token, layer 0 | TransformerLens | {format_scores(lens_scores["previous_token_layer0"])} |
| induction, layer 1 | transformers | {format_scores(hf_scores["induction_layer1"])} |
| induction, layer 1 | TransformerLens | {format_scores(lens_scores["induction_layer1"])} |

Attention scores depend on the sequences they are measured on. The attention_pattern probe
repeats spans of 20 words by default, longer than the spans here and in training, and ranks the
layer-1 heads differently from this table (L1H3 first at 20 words, L1H1 first at 12). Attention
weight also says nothing about what a head writes: activation patching measures that.

Top-1 accuracy on `python/demo/prompts.jsonl` with TransformerLens (BOS prepended):
{results["prompt_accuracy"]:.4f} ({results["n_prompts"]} prompts).

## Prompts file

`python/demo/prompts.jsonl` holds {results["n_prompts"]} lines of
`{{"prompt": "w1 ... wn w1 ... wk", "answer": " w(k+1)"}}`: n distinct words from the
vocabulary, then the first k of them again (1 <= k < n). The answer is the next word of
the first copy. Each word appears once in the first copy, so the answer follows from
copying and from nothing else. The prompt does not contain `<|bos|>`, and every answer is
one token. Regenerate it alone with `uv run --extra attention python
python/demo/make_demo_prompts.py` (sha256 `{sha256_of(prompts_path)}`).

## Files

| file | sha256 |
|---|---|
{file_rows}

`SHA256SUMS` lists these files and this README in `sha256sum` format; check them with
`sha256sum -c SHA256SUMS` inside this folder.
"""
    (out_dir / "README.md").write_text(text, encoding="utf-8")


def write_sha256sums(out_dir: Path) -> None:
    names = [name for name in CHECKSUMMED_FILES if (out_dir / name).exists()] + ["README.md"]
    lines = [f"{sha256_of(out_dir / name)}  {name}\n" for name in names]
    (out_dir / "SHA256SUMS").write_text("".join(lines), encoding="utf-8")


def main() -> None:
    args = parse_args()
    make_deterministic(args.seed, args.threads)

    tokenizer = induction_task.build_tokenizer()
    model = build_model(len(tokenizer), tokenizer)
    n_parameters = sum(parameter.numel() for parameter in model.parameters())
    print(f"training {n_parameters:,} parameters for {args.steps} steps", flush=True)
    train_seconds = train(model, tokenizer, args.steps, args.seed, args.log_every)
    print(f"training took {train_seconds:.1f} s", flush=True)

    args.out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(args.out)
    tokenizer.save_pretrained(args.out)
    print(f"saved the model and tokenizer to {args.out}", flush=True)

    make_demo_prompts.write_prompts(args.out, args.prompts_out)
    print(f"wrote {args.prompts_out}", flush=True)

    results = evaluate_demo_model.evaluate(args.out, args.prompts_out)
    losses = results["held_out_loss"]
    print(
        f"held-out loss: first copy {losses['first_copy']:.3f}, "
        f"repeated copy {losses['repeated_copy']:.3f} nats",
        flush=True,
    )
    print(f"head scores (transformers): {results['hf_head_scores']}", flush=True)
    print(f"head scores (TransformerLens): {results['transformer_lens_head_scores']}", flush=True)
    print(f"prompt accuracy: {results['prompt_accuracy']:.4f}", flush=True)

    write_readme(args.out, args.prompts_out, args, n_parameters, train_seconds, results)
    write_sha256sums(args.out)
    print(f"wrote README.md and SHA256SUMS in {args.out}", flush=True)


if __name__ == "__main__":
    main()
