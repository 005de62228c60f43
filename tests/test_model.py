"""model.forward returns the lecture's names, spelt out, and LECTURE_NAMES lists them without torch."""
import ast

import torch

from conftest import REPO
from handgrad.model import INTERMEDIATES, LECTURE_NAMES, forward, init_params, reference_step


def small_batch(n=5, vocab_size=7, block_size=3, seed=0):
    """A tiny synthetic batch: forward's contract must not depend on the names file."""
    g = torch.Generator().manual_seed(seed)
    params = init_params(vocab_size, n_embd=4, n_hidden=6, block_size=block_size, generator=g)
    Xb = torch.randint(0, vocab_size, (n, block_size), generator=g)
    Yb = torch.randint(0, vocab_size, (n,), generator=g)
    return params, Xb, Yb


def test_lecture_names_are_exactly_the_reference_step_tensors():
    assert tuple(reference_step().tensors) == LECTURE_NAMES


def test_lecture_names_cover_the_intermediates_and_have_no_duplicates():
    assert len(set(LECTURE_NAMES)) == len(LECTURE_NAMES)
    assert set(INTERMEDIATES) <= set(LECTURE_NAMES)


def test_lecture_names_can_be_read_without_importing_torch():
    """The lesson generator may read model.py's source; the tuple must stay a plain literal."""
    tree = ast.parse((REPO / "handgrad" / "model.py").read_text(encoding="utf-8"))
    [value] = [
        node.value for node in tree.body
        if isinstance(node, ast.Assign) and [t.id for t in node.targets] == ["LECTURE_NAMES"]
    ]
    assert ast.literal_eval(value) == LECTURE_NAMES


def test_forward_returns_the_lecture_names_in_forward_order():
    tensors = forward(*small_batch())
    assert tuple(tensors) == LECTURE_NAMES[:-1]  # all but `n`, which reference_step adds
    assert all(isinstance(t, torch.Tensor) for t in tensors.values())


def test_forward_has_no_helper_locals():
    tensors = forward(*small_batch())
    assert not {"params", "tensors", "name", "value", "k", "n"} & set(tensors)


def test_forward_shapes_and_parameters_are_the_callers():
    params, Xb, Yb = small_batch(n=5, vocab_size=7)
    tensors = forward(params, Xb, Yb)
    assert tensors["emb"].shape == (5, 3, 4)
    assert tensors["embcat"].shape == (5, 12)
    assert tensors["hprebn"].shape == (5, 6)
    assert tensors["bnmeani"].shape == (1, 6) and tensors["bnvar_inv"].shape == (1, 6)
    assert tensors["logits"].shape == (5, 7) and tensors["logprobs"].shape == (5, 7)
    assert tensors["counts_sum_inv"].shape == (5, 1)
    assert tensors["loss"].shape == ()
    assert all(tensors[name] is p for name, p in params.items())  # so .grad lands on the parameters
    assert tensors["Xb"] is Xb and tensors["Yb"] is Yb
