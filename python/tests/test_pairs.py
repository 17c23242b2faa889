import json
import math

import pytest
import torch

from auto_research_probe.pairs import (
    PairRecord,
    PatchingPair,
    check_baselines_differ,
    length_buckets,
    load_pairs_jsonl,
    logit_diff,
    normalised_effect,
    pair_tensors,
    prepare_pairs,
)

GOOD = {"clean": "the cat sat on the", "corrupted": "the dog sat on the", "answer": " mat", "wrong_answer": " tree"}


def write_lines(path, lines):
    path.write_text("\n".join(line if isinstance(line, str) else json.dumps(line) for line in lines) + "\n", encoding="utf-8")
    return path


def test_load_pairs_skips_blank_lines(tmp_path):
    other = {**GOOD, "clean": "a bird ran to the", "corrupted": "a cat ran to the", "extra": 1}
    path = write_lines(tmp_path / "pairs.jsonl", [GOOD, "", "   ", other])
    records = load_pairs_jsonl(path)
    assert [record.line_number for record in records] == [1, 4]
    assert records[0] == PairRecord("the cat sat on the", "the dog sat on the", " mat", " tree", 1)
    assert records[1].clean == "a bird ran to the"


@pytest.mark.parametrize(
    "line, match",
    [
        ({k: v for k, v in GOOD.items() if k != "wrong_answer"}, r":2: missing key\(s\) 'wrong_answer'"),
        ({k: v for k, v in GOOD.items() if k not in ("clean", "answer")}, r"missing key\(s\) 'clean', 'answer'"),
        ({**GOOD, "answer": ""}, r":2: 'answer' must be a non-empty string, got ''"),
        ({**GOOD, "corrupted": 3}, r"'corrupted' must be a non-empty string, got 3"),
        ("[1, 2]", r":2: expected a JSON object"),
        ("{not json", r":2: invalid JSON"),
    ],
)
def test_load_pairs_rejects_bad_lines(tmp_path, line, match):
    path = write_lines(tmp_path / "pairs.jsonl", [GOOD, line])
    with pytest.raises(ValueError, match=match):
        load_pairs_jsonl(path)


def test_load_pairs_rejects_missing_and_empty_files(tmp_path):
    with pytest.raises(ValueError, match="pairs file not found"):
        load_pairs_jsonl(tmp_path / "absent.jsonl")
    (tmp_path / "empty.jsonl").write_text("\n\n", encoding="utf-8")
    with pytest.raises(ValueError, match="no pairs found"):
        load_pairs_jsonl(tmp_path / "empty.jsonl")


def record(line_number=3, **changes):
    return PairRecord(**{**GOOD, **changes}, line_number=line_number)


@pytest.mark.torch
def test_prepare_pairs_tokenizes_with_one_bos(hooked_model):
    (pair,) = prepare_pairs(hooked_model, [record()])
    tokenizer = hooked_model.tokenizer
    assert pair.clean_ids[0] == tokenizer.bos_token_id
    assert pair.clean_ids[1:] == tokenizer.convert_tokens_to_ids(["the", "cat", "sat", "on", "the"])
    assert pair.corrupted_ids[1:] == tokenizer.convert_tokens_to_ids(["the", "dog", "sat", "on", "the"])
    assert pair.answer_id == tokenizer.convert_tokens_to_ids("mat")
    assert pair.wrong_id == tokenizer.convert_tokens_to_ids("tree")
    assert pair.line_number == 3


@pytest.mark.torch
@pytest.mark.parametrize(
    "changes, match",
    [
        ({"answer": " red tree"}, r"line 3: answer ' red tree' tokenizes to 2 tokens \['red', 'tree'\]"),
        ({"wrong_answer": " sky is"}, r"line 3: wrong_answer ' sky is' tokenizes to 2 tokens \['sky', 'is'\]"),
        ({"answer": " zebra"}, r"line 3: answer ' zebra' is not in the model's vocabulary"),
        ({"wrong_answer": " mat"}, r"line 3: answer ' mat' and wrong_answer ' mat' are the same token"),
        ({"wrong_answer": "mat"}, r"are the same token"),
        ({"corrupted": "the dog sat on the red"}, r"line 3: clean prompt has 6 tokens but corrupted prompt has 7"),
    ],
)
def test_prepare_pairs_rejects_bad_pairs(hooked_model, changes, match):
    good = record(line_number=1)
    with pytest.raises(ValueError, match=match):
        prepare_pairs(hooked_model, [good, record(**changes)])


@pytest.mark.torch
def test_prepare_pairs_rejects_prompts_longer_than_context(hooked_model):
    long_prompt = " ".join(["cat"] * hooked_model.cfg.n_ctx)
    with pytest.raises(ValueError, match=f"more than the model's context of {hooked_model.cfg.n_ctx}"):
        prepare_pairs(hooked_model, [record(clean=long_prompt, corrupted=long_prompt)])


def pair(length, line):
    return PatchingPair(list(range(length)), list(range(1, length + 1)), 5, 6, line)


def test_length_buckets_group_by_length_in_order():
    pairs = [pair(4, 1), pair(3, 2), pair(4, 3), pair(5, 4), pair(3, 5)]
    assert length_buckets(pairs) == [[1, 4], [0, 2], [3]]
    assert length_buckets([]) == []


def test_pair_tensors_stack_one_length_and_reject_mixed():
    pairs = [pair(4, 1), pair(3, 2), pair(4, 3)]
    clean, corrupted, answers, wrongs = pair_tensors(pairs, [0, 2])
    assert clean.shape == corrupted.shape == (2, 4)
    assert corrupted[1].tolist() == [1, 2, 3, 4]
    assert answers.tolist() == [5, 5]
    assert wrongs.tolist() == [6, 6]
    with pytest.raises(ValueError, match=r"one token length, got lengths \[3, 4\]"):
        pair_tensors(pairs)


def test_logit_diff_reads_last_position():
    logits = torch.zeros(2, 3, 5)
    logits[0, -1, 1], logits[0, -1, 2] = 4.0, 1.5
    logits[1, -1, 3], logits[1, -1, 0] = -1.0, 2.0
    logits[:, 0, :] = 100.0  # other positions must not count
    result = logit_diff(logits, torch.tensor([1, 3]), torch.tensor([2, 0]))
    assert result.tolist() == [2.5, -3.0]


def test_logit_diff_rejects_bad_shapes():
    with pytest.raises(ValueError, match="expected logits"):
        logit_diff(torch.zeros(2, 5), torch.tensor([1, 2]), torch.tensor([0, 0]))
    with pytest.raises(ValueError, match="batch sizes differ"):
        logit_diff(torch.zeros(2, 3, 5), torch.tensor([1]), torch.tensor([0, 0]))


def test_normalised_effect_values():
    assert normalised_effect(10.0, 10.0, -4.0) == pytest.approx(1.0)
    assert normalised_effect(-4.0, 10.0, -4.0) == pytest.approx(0.0)
    assert normalised_effect(3.0, 10.0, -4.0) == pytest.approx(0.5)
    assert normalised_effect(1.0, 2.0, 4.0) == pytest.approx(1.5)


@pytest.mark.parametrize("clean, corrupted", [(2.5, 2.5), (1000.0, 1000.0 + 1e-4), (0.0, 1e-7)])
def test_normalised_effect_rejects_equal_baselines(clean, corrupted):
    with pytest.raises(ValueError, match=r"clean and corrupted logit differences are equal .*the corruption does not change the answer"):
        normalised_effect(1.0, clean, corrupted)


def test_normalised_effect_tolerance_is_relative():
    # 1e-3 apart is a real difference at scale 1 and is accepted.
    assert math.isfinite(normalised_effect(0.5, 1.0, 0.999))
    assert check_baselines_differ(1.0, 0.999) == pytest.approx(0.001)


def test_normalised_effect_rejects_non_finite():
    with pytest.raises(ValueError, match="must be finite"):
        normalised_effect(1.0, float("nan"), 0.0)


def test_check_clear_gap_rejects_wrong_direction_and_noise():
    from auto_research_probe.pairs import check_clear_gap

    check_clear_gap([10.0, 11.0, 9.5, 10.5], [-9.0, -8.0, -10.0, -9.5], n_bootstrap=500)
    with pytest.raises(ValueError, match="do not lower the logit difference"):
        check_clear_gap([10.7, 10.8], [10.9, 10.8], n_bootstrap=500)
    # A small positive mean gap whose interval reaches zero is noise, not a corruption.
    with pytest.raises(ValueError, match="not clearly above zero"):
        check_clear_gap([1.0, -1.0, 1.2, -0.9], [0.0, 0.0, 0.0, 0.0], n_bootstrap=500)
