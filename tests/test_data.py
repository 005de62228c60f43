"""The names file, its provenance, the lecture's split and model, and the package metadata."""
import hashlib
import random
import re
import sys
import tomllib

import pytest
import torch
import torch.nn.functional as F

from conftest import REFERENCE_NAMES, REPO
from handgrad import build_dataset, build_vocab, load_words, reference_step, split_dataset

sys.path.insert(0, str(REPO / "data"))
from build_names import merge_births  # noqa: E402


def test_names_file_matches_its_readme():
    data = (REPO / "data" / "names.txt").read_bytes()
    readme = (REPO / "data" / "README.md").read_text()
    assert hashlib.sha256(data).hexdigest() in readme
    words = load_words()
    assert len(words) == 29910 and f"| {len(words)} " in readme
    assert all(re.fullmatch("[a-z]+", w) for w in words)
    assert len(set(words)) == len(words)


def test_merge_births_adds_sexes_lowercases_and_orders():
    rows = [("Avery", 5), ("Emma", 10), ("avery", 7), ("Zoe", 10), ("Liam", 3)]
    assert merge_births(rows) == ["avery", "emma", "zoe", "liam"]


def test_split_is_eighty_ten_ten_and_leaves_the_callers_list_alone():
    words = load_words()
    before = list(words)
    stoi, itos = build_vocab(words)
    (Xtr, Ytr), (Xdev, Ydev), (Xte, Yte) = split_dataset(words, stoi)
    assert words == before
    assert len(stoi) == 27 and stoi["."] == 0 and itos[1] == "a"
    total = sum(len(w) + 1 for w in words)
    assert Xtr.shape[0] + Xdev.shape[0] + Xte.shape[0] == total
    assert Xtr.shape[1] == 3 and Ytr.shape == (Xtr.shape[0],)


def test_split_is_the_lectures_global_seed_shuffle():
    """A private random.Random(42) draws what the lecture's random.seed(42); random.shuffle drew."""
    words = load_words()
    stoi, _ = build_vocab(words)
    saved = random.getstate()
    try:
        lecture = list(words)
        random.seed(42)
        random.shuffle(lecture)
    finally:
        random.setstate(saved)
    n1, n2 = int(0.8 * len(lecture)), int(0.9 * len(lecture))
    expected = [build_dataset(part, stoi) for part in (lecture[:n1], lecture[n1:n2], lecture[n2:])]
    for (X, Y), (Xe, Ye) in zip(split_dataset(words, stoi), expected):
        assert torch.equal(X, Xe) and torch.equal(Y, Ye)


def test_split_leaves_the_global_random_state_alone():
    words = load_words()
    stoi, _ = build_vocab(words)
    random.seed(1234)
    before = random.getstate()
    split_dataset(words, stoi)
    assert random.getstate() == before


@pytest.mark.skipif(not REFERENCE_NAMES.exists(), reason="the lecture's names file is not beside the repo")
def test_lectures_file_gives_the_lectures_numbers():
    words = load_words(REFERENCE_NAMES)
    stoi, _ = build_vocab(words)
    splits = split_dataset(words, stoi)
    assert len(words) == 32033
    assert [X.shape[0] for X, _ in splits] == [182625, 22655, 22866]


def test_reference_step_is_deterministic_and_is_cross_entropy():
    first, second = reference_step().tensors, reference_step().tensors
    assert torch.equal(first["loss"], second["loss"])
    assert torch.allclose(first["loss"], F.cross_entropy(first["logits"], first["Yb"]))
    assert first["logprobs"].grad is not None and first["logprobs"].grad.shape == (32, 27)
    assert first["n"] == 32 and first["Xb"].shape == (32, 3)


def test_pyproject_uses_an_spdx_license_and_a_setuptools_that_reads_it():
    """`license = {text = ...}` is deprecated (builds stop working after 2027-02-18); SPDX needs setuptools>=77."""
    pyproject = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
    project = pyproject["project"]
    assert project["license"] == "MIT"
    # setuptools>=77 refuses a "License ::" classifier next to an SPDX license.
    assert not [c for c in project.get("classifiers", []) if c.startswith("License ::")]
    [setuptools] = [r for r in pyproject["build-system"]["requires"] if r.startswith("setuptools")]
    bound = re.fullmatch(r"setuptools\s*>=\s*(\d+)(\.\d+)*", setuptools)
    assert bound and int(bound.group(1)) >= 77, setuptools
