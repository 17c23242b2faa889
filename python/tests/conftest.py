"""Shared fixtures: one tiny GPT-2 on disk and one HookedTransformer per test session.

Importing transformer_lens takes tens of seconds, so the model is loaded once per
session and tests that change it work on a deep copy.
"""

from __future__ import annotations

import os

# Tests never reach the network: every model and tokenizer is built on disk here.
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"

import pytest  # noqa: E402

from tiny_model import build_tiny_gpt2  # noqa: E402


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory):
    return build_tiny_gpt2(tmp_path_factory.mktemp("models") / "tiny-gpt2")


@pytest.fixture(scope="session")
def hooked_model(tiny_model_dir):
    from auto_research_probe.models import load_hooked_model

    return load_hooked_model(str(tiny_model_dir), device="cpu")


@pytest.fixture()
def model_copy(hooked_model):
    import copy

    return copy.deepcopy(hooked_model)
