"""cmp: the lecture's row, a status, one diagnosis per kind of mistake, the gradient to carry on with."""
import re

import numpy as np
import pytest
import torch

from handgrad import cmp, set_language
from handgrad.check import Gradient, check

ROW = re.compile(r"^(\S.{14}) \| exact: (True |False|-    ) \| approximate: (True |False|-    ) \| maxdiff: (\S+) \| (.+)$")


def node(*shape, seed=0):
    """A tensor whose .grad autograd has filled in, like an intermediate of the forward pass."""
    g = torch.Generator().manual_seed(seed)
    t = torch.randn(*shape, generator=g, requires_grad=True)
    weights = torch.randn(*shape, generator=g)
    (t * weights).sum().backward()  # so t.grad == weights
    return t


def run(capsys, name, dt, t, **kw):
    result = cmp(name, dt, t, **kw)
    lines = capsys.readouterr().out.splitlines()
    return result, lines


def test_right_answer_prints_the_lecture_row_and_done(capsys):
    t = node(32, 27)
    result, lines = run(capsys, "logprobs", t.grad.clone(), t)
    match = ROW.match(lines[0])
    assert match, lines[0]
    assert match.group(1).strip() == "logprobs"
    assert match.group(2).strip() == "True" and match.group(3).strip() == "True"
    assert float(match.group(4)) == 0.0
    assert "done" in match.group(5)
    assert len(lines) == 1
    assert torch.equal(result, t.grad)


def test_approximately_right_is_done_and_keeps_the_learners_tensor(capsys):
    t = node(4, 5)
    mine = t.grad.clone() * (1 + 1e-7)
    result, lines = run(capsys, "x", mine, t)
    assert "approximate: True" in lines[0] and "done" in lines[0]
    assert torch.equal(result, mine)


@pytest.mark.parametrize("missing", [..., None])
def test_missing_answer_is_to_do_and_carries_autograds_gradient(capsys, missing):
    t = node(3, 1)
    result, lines = run(capsys, "counts_sum_inv", missing, t)
    assert "to do" in lines[0]
    assert "dcounts_sum_inv" in lines[1]
    assert torch.equal(result, t.grad)
    assert result.data_ptr() != t.grad.data_ptr()  # a copy: editing it in place cannot spoil t.grad


@pytest.mark.parametrize("answer, says", [
    ([[0.1], [0.2], [0.3]], "list"),
    (np.zeros((3, 1), dtype=np.float32), "numpy.ndarray"),
    (0.5, "float 0.5"),
])
def test_not_a_tensor_says_what_it_got(capsys, answer, says):
    t = node(3, 1)
    result, lines = run(capsys, "b", answer, t)
    assert "wrong" in lines[0]
    assert says in lines[1]
    assert torch.equal(result, t.grad)


def test_replicated_shape_hints_sum_with_keepdim(capsys):
    t = node(32, 1)
    _, lines = run(capsys, "counts_sum_inv", torch.zeros(32, 27), t)
    text = "\n".join(lines)
    assert "expected [32, 1]" in text and "got [32, 27]" in text
    assert "replicated" in text and ".sum(1, keepdim=True)" in text


def test_missing_keepdim_is_named(capsys):
    t = node(1, 64)
    _, lines = run(capsys, "bngain", torch.zeros(64), t)
    text = "\n".join(lines)
    assert "expected [1, 64]" in text and "got [64]" in text
    assert "keepdim=True" in text and ".sum(0, keepdim=True)" in text


def test_wrong_dimension_summed_is_named(capsys):
    t = node(32, 1)
    _, lines = run(capsys, "counts_sum_inv", torch.zeros(1, 27), t)
    text = "\n".join(lines)
    assert "wrong dimension" in text and ".sum(1, keepdim=True)" in text


def test_bias_broadcast_over_the_batch_hints_plain_sum(capsys):
    t = node(64)
    _, lines = run(capsys, "b1", torch.zeros(32, 64), t)
    assert any(".sum(0)" in line for line in lines)


def test_transposed_shape_is_named(capsys):
    t = node(64, 27)
    _, lines = run(capsys, "W2", torch.zeros(27, 64), t)
    assert any("transposed" in line for line in lines)


def test_dtype_mismatch(capsys):
    t = node(3, 3)
    _, lines = run(capsys, "a", t.grad.double(), t)
    assert any("torch.float32" in line and "torch.float64" in line for line in lines)


def test_device_mismatch(capsys):
    t = node(3, 3)
    _, lines = run(capsys, "a", torch.zeros(3, 3, device="meta"), t)
    assert any("device" in line and "meta" in line for line in lines)


@pytest.mark.parametrize("bad", [float("nan"), float("inf")])
def test_nan_or_inf_in_the_answer(capsys, bad):
    t = node(3, 3)
    mine = t.grad.clone()
    mine[1, 2] = bad
    _, lines = run(capsys, "a", mine, t)
    assert any("NaN or infinite" in line and "[1, 2]" in line for line in lines)


def test_grad_none_asks_for_retain_grad(capsys):
    leaf = torch.randn(3, requires_grad=True)
    intermediate = leaf * 2
    (intermediate.sum()).backward()
    _, lines = run(capsys, "h", torch.zeros(3), intermediate)
    assert "wrong" in lines[0]
    assert "retain_grad()" in lines[1]


def test_wrong_values_give_maxdiff_and_where(capsys):
    t = node(4, 5)
    mine = t.grad.clone()
    mine[2, 3] += 0.5
    result, lines = run(capsys, "a", mine, t)
    assert "exact: False" in lines[0] and "approximate: False" in lines[0]
    assert "maxdiff: 0.5" in lines[0]
    assert "[2, 3]" in lines[1]
    assert "1 of 20 entries" in "\n".join(lines)
    assert torch.equal(result, t.grad)  # carry on with autograd's


def test_sign_and_scale_hints(capsys):
    t = node(4, 5)
    _, lines = run(capsys, "a", -t.grad, t)
    assert any("sign" in line for line in lines)
    _, lines = run(capsys, "a", 32 * t.grad, t)
    assert any("times 32" in line for line in lines)


def test_copying_autograds_answer_is_noticed(capsys):
    t = node(3)
    _, lines = run(capsys, "a", t.grad, t)
    assert "done" in lines[0] and "a.grad itself" in lines[1]


@pytest.mark.parametrize("weird", ["dlogprobs", torch.zeros(3, 3, dtype=torch.int64), torch.zeros(3, 3, dtype=torch.complex64), {"a": 1}])
def test_learner_mode_never_raises(capsys, weird):
    t = node(3, 3)
    result, lines = run(capsys, "a", weird, t)
    assert "wrong" in lines[0]
    assert torch.equal(result, t.grad)


def test_reference_that_is_not_a_tensor_does_not_raise(capsys):
    result, lines = run(capsys, "a", torch.zeros(3), "logprobs")
    assert "wrong" in lines[0] and result is None


def test_strict_mode_raises_on_anything_but_right(capsys, monkeypatch):
    t = node(3, 3)
    monkeypatch.setenv("HANDGRAD_STRICT", "1")
    assert torch.equal(cmp("a", t.grad.clone(), t), t.grad)
    for wrong in (..., torch.zeros(3, 3), torch.zeros(3), [1]):
        with pytest.raises(AssertionError):
            cmp("a", wrong, t)
    # an explicit strict=False shows a diagnosis even in strict mode (lessons' demo cells)
    cmp("a", torch.zeros(3), t, strict=False)
    assert "wrong shape" in capsys.readouterr().out


def test_nbgrader_autograde_is_strict(monkeypatch):
    t = node(3)
    monkeypatch.setenv("NBGRADER_EXECUTION", "autograde")
    with pytest.raises(AssertionError):
        cmp("a", ..., t)


def test_messages_in_italian(capsys):
    set_language("it")
    t = node(32, 1)
    _, lines = run(capsys, "counts_sum_inv", torch.zeros(32), t)
    assert "sbagliato" in lines[0]
    assert "forma sbagliata" in lines[1] and "keepdim=True" in lines[2]
    _, lines = run(capsys, "counts_sum_inv", ..., t)
    assert "da fare" in lines[0]


def test_returned_gradient_is_not_echoed_but_computes_as_a_tensor(capsys):
    t = node(3, 1)
    result, _ = run(capsys, "a", t.grad.clone(), t)
    assert isinstance(result, Gradient) and isinstance(result, torch.Tensor)
    assert hasattr(result, "_ipython_display_") and result._ipython_display_() is None
    derived = result * 2 + 1
    assert type(derived) is torch.Tensor  # a new tensor is echoed as usual
    assert "tensor(" in repr(result)  # print() still shows the values


def test_check_is_pure():
    t = node(2, 2)
    verdict = check("a", t.grad.clone(), t)
    assert verdict.status == "done" and verdict.exact is True and verdict.maxdiff == 0.0


def test_autograds_stand_in_is_not_taken_for_the_learners_answer(capsys):
    """The recap must not say 'done' for an exercise the learner skipped: cmp marks its stand-in."""
    t = node(3, 1)
    carried, _ = run(capsys, "a", ..., t)
    _, lines = run(capsys, "a", carried, t)
    assert "to do" in lines[0] and "still autograd's gradient" in lines[1] and "(or fix)" in lines[1]
    mine, _ = run(capsys, "a", t.grad.clone(), t)
    _, lines = run(capsys, "a", mine, t)
    assert "done" in lines[0]
    # a wrong answer stays wrong in the recap
    carried, _ = run(capsys, "a", -t.grad, t)
    _, lines = run(capsys, "a", carried, t)
    assert "wrong" in lines[0] and "(or fix)" in lines[1]
    # a new tensor computed from the stand-in is the learner's own work
    _, lines = run(capsys, "a", carried * 1.0, t)
    assert "done" in lines[0]


def test_square_wrong_dim_names_the_sum_and_the_transpose(capsys):
    t = node(3, 1)
    _, lines = run(capsys, "b", torch.zeros(1, 3), t)
    text = "\n".join(lines)
    assert "wrong dimension" in text and ".sum(1, keepdim=True)" in text and "transposed" in text


def test_label_that_is_not_a_name_reads_naturally(capsys):
    t = node(3)
    _, lines = run(capsys, "counts (2)", ..., t)
    assert "write your answer" in lines[1]


def test_scalar_answer_is_described_without_an_index(capsys):
    t = node(())
    _, lines = run(capsys, "loss", t.grad + 1, t)
    assert "wrong value" in lines[1] and "[]" not in lines[1]


def test_missing_path_through_a_row_sum_is_suggested(capsys):
    t = node(4, 5)
    per_row = torch.arange(4.0).view(4, 1) + 1
    _, lines = run(capsys, "counts", t.grad - per_row, t)  # what forgetting dcounts1 looks like
    assert any("same along dim 1" in line for line in lines)


def test_number_for_a_scalar_gradient_explains_the_empty_shape(capsys):
    t = node(())
    _, lines = run(capsys, "loss", 1.0, t)
    assert "0-dimensional tensor" in lines[1]


def test_stand_in_names_the_exercise_it_stands_in_for(capsys):
    t, other = node(3, 1), node(3, 1, seed=1)
    carried, _ = run(capsys, "counts_sum_inv", ..., t)
    _, lines = run(capsys, "counts", carried, other)
    assert "dcounts_sum_inv" in lines[1]


def test_half_the_answer_suggests_an_overwritten_contribution(capsys):
    t = node(4, 5)
    _, lines = run(capsys, "a", 0.5 * t.grad, t)
    assert any("times 0.5" in line and "+=" in line for line in lines)
