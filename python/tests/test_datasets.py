import pytest

from auto_research_probe.datasets import (
    PromptExample,
    clean_corrupted_pair_dataset,
    load_prompts_jsonl,
    sample_examples,
)


def write(tmp_path, text):
    path = tmp_path / "prompts.jsonl"
    path.write_text(text, encoding="utf-8")
    return path


def test_load_prompts_valid_lines(tmp_path):
    path = write(tmp_path, '{"prompt": "the cat", "answer": "sat"}\n\n{"prompt": "a dog ran", "id": 7}\n')
    examples = load_prompts_jsonl(path)
    assert examples == [
        PromptExample(prompt="the cat", answer="sat", line_number=1),
        PromptExample(prompt="a dog ran", answer=None, line_number=3),
    ]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('{"prompt": "ok"}\n{"prompt": "broken"\n', r"prompts\.jsonl:2: invalid JSON"),
        ('{"prompt": "ok"}\n{"answer": "x"}\n', r":2: missing key \"prompt\""),
        ('["prompt"]\n', r":1: expected a JSON object, got list"),
        ('{"prompt": ""}\n', r":1: \"prompt\" must be a non-empty string"),
        ('{"prompt": 3}\n', r":1: \"prompt\" must be a non-empty string"),
        ('{"prompt": "x", "answer": 5}\n', r":1: \"answer\" must be a non-empty string"),
        ("", "no prompts found"),
        ("\n  \n", "no prompts found"),
    ],
)
def test_load_prompts_invalid_lines(tmp_path, text, message):
    with pytest.raises(ValueError, match=message):
        load_prompts_jsonl(write(tmp_path, text))


def test_load_prompts_missing_file(tmp_path):
    with pytest.raises(ValueError, match="not found"):
        load_prompts_jsonl(tmp_path / "absent.jsonl")


def test_sample_examples_seeded_without_replacement():
    pool = list(range(100))
    first = sample_examples(pool, 30, seed=0)
    assert len(first) == 30
    assert len(set(first)) == 30
    assert first == sample_examples(pool, 30, seed=0)
    assert first != sample_examples(pool, 30, seed=1)


def test_sample_examples_small_pool_returns_all_once():
    pool = list(range(5))
    drawn = sample_examples(pool, 64, seed=3)
    assert sorted(drawn) == pool


def test_sample_examples_rejects_bad_input():
    with pytest.raises(ValueError, match="at least 1"):
        sample_examples([1, 2], 0, seed=0)
    with pytest.raises(ValueError, match="empty"):
        sample_examples([], 3, seed=0)


def test_pair_dataset_token_ids_same_length():
    pairs = clean_corrupted_pair_dataset([[1, 2, 3], [4, 5]], [[1, 9, 3], [4, 8]], pad_token_id=0)
    assert pairs.clean_tokens.tolist() == [[1, 2, 3], [0, 4, 5]]
    assert pairs.corrupted_tokens.tolist() == [[1, 9, 3], [0, 4, 8]]
    assert pairs.clean_attention_mask.tolist() == [[1, 1, 1], [0, 1, 1]]
    assert pairs.clean_position_ids.tolist() == [[0, 1, 2], [0, 0, 1]]
    assert pairs.lengths == [3, 2]


def test_pair_dataset_rejects_mismatched_lengths():
    with pytest.raises(ValueError, match=r"pair 1: 2 vs 3 tokens"):
        clean_corrupted_pair_dataset([[1, 2], [3, 4]], [[1, 2], [3, 4, 5]])


def test_pair_dataset_left_pad_alignment():
    pairs = clean_corrupted_pair_dataset([[1, 2]], [[7, 8, 9]], align="left_pad", pad_token_id=0)
    assert pairs.clean_tokens.tolist() == [[0, 1, 2]]
    assert pairs.corrupted_tokens.tolist() == [[7, 8, 9]]
    assert pairs.clean_attention_mask.tolist() == [[0, 1, 1]]
    assert pairs.corrupted_position_ids.tolist() == [[0, 1, 2]]


def test_pair_dataset_truncate_left_keeps_bos(tiny_model_dir):
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir, local_files_only=True)
    pairs = clean_corrupted_pair_dataset(
        ["the cat sat on the mat"], ["a dog ran"], tokenizer=tokenizer, align="truncate_left", prepend_bos=True
    )
    bos = tokenizer.bos_token_id
    assert pairs.clean_tokens[0, 0].item() == bos
    assert pairs.corrupted_tokens[0, 0].item() == bos
    assert pairs.clean_tokens.shape == pairs.corrupted_tokens.shape == (1, 4)
    assert tokenizer.convert_ids_to_tokens(pairs.clean_tokens[0, 1:].tolist()) == ["on", "the", "mat"]


def test_pair_dataset_strings_need_tokenizer():
    with pytest.raises(ValueError, match="no tokenizer"):
        clean_corrupted_pair_dataset(["the cat"], ["the dog"])


def test_pair_dataset_rejects_count_mismatch_and_bad_align():
    with pytest.raises(ValueError, match="2 clean prompts but 1 corrupted"):
        clean_corrupted_pair_dataset([[1], [2]], [[1]])
    with pytest.raises(ValueError, match="align"):
        clean_corrupted_pair_dataset([[1]], [[1]], align="right")


@pytest.mark.torch
def test_pair_dataset_hooked_model_single_bos(hooked_model):
    pairs = clean_corrupted_pair_dataset(["<bos> the cat"], ["the dog"], tokenizer=hooked_model)
    bos = hooked_model.tokenizer.bos_token_id
    assert pairs.clean_tokens[0].tolist().count(bos) == 1
    assert pairs.corrupted_tokens[0].tolist().count(bos) == 1


def test_sample_per_seed_draws_disjoint_examples():
    from auto_research_probe.datasets import sample_examples, sample_per_seed

    pool = list(range(100))
    draws = sample_per_seed(pool, 20, [0, 1, 2])

    assert [len(draw) for draw in draws] == [20, 20, 20]
    assert len({item for draw in draws for item in draw}) == 60
    assert draws[0] == sample_examples(pool, 20, 0)
    assert sample_per_seed(pool, 20, [0, 1, 2]) == draws


def test_sample_per_seed_splits_small_pool():
    from auto_research_probe.datasets import sample_per_seed

    draws = sample_per_seed(list(range(64)), 64, [0, 1, 2])

    # 64 examples cannot give 3 seeds 64 each without reuse, so each gets 21 of its own.
    assert [len(draw) for draw in draws] == [21, 21, 21]
    assert len({item for draw in draws for item in draw}) == 63
    with pytest.raises(ValueError, match="2 example\\(s\\) but 3 seeds"):
        sample_per_seed([1, 2], 5, [0, 1, 2])
