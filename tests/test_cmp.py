"""cmp: the lecture's row, a status, one diagnosis per kind of mistake, the gradient to carry on with.

Diagnoses are asserted as message keys and values (what `check` returns), not
as English wording; a few tests look at the rendered text: the row, the
wrapping, the Italian table, and the learner's variable named in messages.
"""
import runpy
import linecache
import re

import numpy as np
import pytest
import torch

from handgrad import cmp, set_language
from handgrad.check import WIDTH, Gradient, Verdict, check
from handgrad.i18n import LANGUAGES, MESSAGES

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


# --- the row and the status --------------------------------------------------

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


def test_check_is_pure_and_returns_data(capsys):
    t = node(2, 2)
    verdict = check("a", t.grad.clone(), t)
    assert capsys.readouterr().out == ""  # check prints nothing: cmp does
    assert isinstance(verdict, Verdict)
    assert verdict.status == "done" and verdict.exact is True and verdict.maxdiff == 0.0 and verdict.notes == []
    wrong = check("a", -t.grad, t)
    assert capsys.readouterr().out == ""
    assert wrong.status == "wrong" and "hint_sign" in wrong.keys()


def test_approximately_right_is_done_and_keeps_the_learners_tensor(capsys):
    t = node(4, 5)
    mine = t.grad.clone() * (1 + 1e-7)
    result, lines = run(capsys, "x", mine, t)
    assert "approximate: True" in lines[0] and "done" in lines[0]
    assert torch.equal(result, mine)


@pytest.mark.parametrize("missing", [..., None])
def test_missing_answer_is_to_do_and_carries_autograds_gradient(capsys, missing):
    t = node(3, 1)
    verdict = check("counts_sum_inv", missing, t)
    assert verdict.status == "todo" and verdict.keys() == ["todo_line"]
    assert verdict.values("todo_line")["dname"] == ("name", {"name": "dcounts_sum_inv"})
    dcounts_sum_inv = missing
    result = cmp("counts_sum_inv", dcounts_sum_inv, t)
    lines = capsys.readouterr().out.splitlines()
    assert "to do" in lines[0] and "dcounts_sum_inv" in lines[1]
    assert torch.equal(result, t.grad)
    assert result.data_ptr() != t.grad.data_ptr()  # a copy: editing it in place cannot spoil t.grad


# --- not a tensor ------------------------------------------------------------

@pytest.mark.parametrize("answer, kind, hint", [
    ([[0.1], [0.2], [0.3]], "list", ("hint_list", {})),
    (np.zeros((3, 1), dtype=np.float32), "numpy.ndarray", ("hint_numpy", {"dtype": "torch.float32"})),
    (0.5, "float (0.5)", ("hint_number", {"name": "b", "shape": [3, 1]})),
])
def test_not_a_tensor_says_what_it_got_and_one_way_to_fix_it(answer, kind, hint):
    t = node(3, 1)
    verdict = check("b", answer, t)
    assert verdict.status == "wrong" and verdict.keys() == ["not_tensor", "carry_on_autograd"]
    assert verdict.values("not_tensor") == {"kind": kind, "hint": hint}
    assert torch.equal(verdict.carry, t.grad)


def test_numpy_hint_gives_the_conversion_and_the_dtype_at_once(capsys):
    t = node(3, 1)
    _, lines = run(capsys, "b", np.zeros((3, 1)), t)  # float64: two mistakes, one hint
    text = " ".join(lines)
    assert "torch.from_numpy(...).to(torch.float32)" in text
    assert sum("torch" in line for line in lines[1:-1]) >= 1 and "dtype" not in text


def test_number_for_a_scalar_gradient_explains_the_empty_shape():
    t = node(())
    verdict = check("loss", 1.0, t)
    assert verdict.values("not_tensor")["hint"] == ("hint_number", {"name": "loss", "shape": ("scalar_shape", {})})


# --- shapes ------------------------------------------------------------------

def test_replicated_shape_hints_sum_with_keepdim():
    t = node(32, 1)
    verdict = check("counts_sum_inv", torch.zeros(32, 27), t)
    assert verdict.values("shape")["want"] == [32, 1] and verdict.values("shape")["got"] == [32, 27]
    assert verdict.values("hint_sum_replicated") == {"name": "counts_sum_inv", "dims": "1", "fix": ".sum(1, keepdim=True)"}


def test_missing_keepdim_is_named():
    t = node(1, 64)
    verdict = check("bngain", torch.zeros(64), t)
    assert verdict.values("hint_keepdim") == {"fix": ".sum(0, keepdim=True)"}


def test_wrong_dimension_summed_is_named():
    t = node(32, 1)
    verdict = check("counts_sum_inv", torch.zeros(1, 27), t)
    assert verdict.values("hint_wrong_dim")["fix"] == ".sum(1, keepdim=True)"


def test_bias_broadcast_over_the_batch_hints_plain_sum():
    t = node(64)
    verdict = check("b1", torch.zeros(32, 64), t)
    assert verdict.values("hint_sum_replicated")["fix"] == ".sum(0)"


def test_transposed_shape_is_named():
    t = node(64, 27)
    assert "hint_transposed" in check("W2", torch.zeros(27, 64), t).keys()


def test_a_row_for_a_column_is_a_sum_over_the_wrong_dim_not_a_transpose():
    t = node(3, 1)
    keys = check("b", torch.zeros(1, 3), t).keys()
    assert "hint_wrong_dim" in keys and "hint_transposed" not in keys


@pytest.mark.parametrize("got, dims, fix", [
    ((32, 1), "1", "torch.ones_like(counts) * dcounts"),
    ((32,), "1", "torch.ones_like(counts) * dcounts.view(32, 1)"),
    ((1, 27), "0", "torch.ones_like(counts) * dcounts"),
])
def test_an_answer_smaller_than_expected_says_replication_goes_backward(got, dims, fix):
    t = node(32, 27)
    verdict = check("counts", torch.zeros(*got), t, dname="dcounts", tname="counts")
    assert verdict.keys()[:2] == ["shape", "hint_replicate_back"]
    values = verdict.values("hint_replicate_back")
    assert values["dims"] == dims and values["fix"] == fix and values["tname"] == "counts"


# --- dtype, device, NaN, grad ------------------------------------------------

def test_dtype_mismatch():
    t = node(3, 3)
    assert check("a", t.grad.double(), t).values("dtype") == {"want": "torch.float32", "got": "torch.float64"}


def test_device_mismatch():
    t = node(3, 3)
    assert check("a", torch.zeros(3, 3, device="meta"), t).values("device")["got"] == "meta"


@pytest.mark.parametrize("bad", [float("nan"), float("inf")])
def test_nan_or_inf_in_the_answer(bad):
    t = node(3, 3)
    mine = t.grad.clone()
    mine[1, 2] = bad
    assert check("a", mine, t).values("nonfinite") == {"count": 1, "where": "[1, 2]"}


def test_grad_none_asks_for_retain_grad():
    leaf = torch.randn(3, requires_grad=True)
    intermediate = leaf * 2
    intermediate.sum().backward()
    verdict = check("h", torch.zeros(3), intermediate)
    assert verdict.status == "wrong" and verdict.keys() == ["no_grad"]


def test_reference_that_is_not_a_tensor_does_not_raise(capsys):
    result, lines = run(capsys, "a", torch.zeros(3), "logprobs")
    assert "wrong" in lines[0] and result is None


# --- values --------------------------------------------------------------------

def test_wrong_values_give_where_and_how_many():
    t = node(4, 5)
    mine = t.grad.clone()
    mine[2, 3] += 0.5
    verdict = check("a", mine, t)
    assert verdict.exact is False and verdict.approximate is False
    assert verdict.maxdiff == pytest.approx(0.5)
    assert verdict.values("values")["where"] == "[2, 3]"
    assert "maxdiff" not in verdict.values("values")  # the row shows it once
    assert verdict.values("hint_one_wrong") == {"total": 20}  # "1 of 20 entries is wrong", singular
    mine[0, 0] += 0.5
    assert check("a", mine, t).values("hint_rows") == {"bad": 2, "total": 20}
    assert torch.equal(verdict.carry, t.grad)  # carry on with autograd's


def test_all_entries_wrong_is_said():
    t = node(4, 5)
    verdict = check("a", t.grad + torch.rand(4, 5) + 0.1, t)
    assert "hint_rows" not in verdict.keys() and verdict.values("hint_all_wrong") == {"total": 20}


def test_sign_and_scale_hints():
    t = node(4, 5)
    assert "hint_sign" in check("a", -t.grad, t).keys()
    assert check("a", 32 * t.grad, t).values("hint_scale")["factor"] == pytest.approx(32)


def test_all_zeros_is_not_called_a_scale():
    t = node(4, 5)
    keys = check("a", torch.zeros(4, 5), t).keys()
    assert "hint_zeros" in keys and "hint_scale" not in keys


def test_half_the_answer_suggests_an_overwritten_contribution():
    t = node(4, 5)
    values = check("a", 0.5 * t.grad, t).values("hint_scale")
    assert values["factor"] == pytest.approx(0.5) and values["overwritten"] == ("overwritten", {})


def test_missing_path_through_a_row_sum_is_suggested():
    t = node(4, 5)
    per_row = torch.arange(4.0).view(4, 1) + 1
    verdict = check("counts", t.grad - per_row, t)  # what forgetting dcounts1 looks like
    assert verdict.values("hint_constant_error") == {"dim": 1}


def test_a_flipped_sign_is_not_blamed_on_a_missing_path():
    """dcounts1 with a flipped sign: its error is constant along dim 1, but the sign explains it all."""
    per_row = torch.arange(4.0).view(4, 1) + 1
    t = torch.zeros(4, 5, requires_grad=True)
    (t * per_row).sum().backward()  # the expected gradient is itself constant along dim 1
    keys = check("counts", -t.grad, t).keys()
    assert "hint_sign" in keys and "hint_constant_error" not in keys


def test_constant_error_hint_is_dropped_when_the_answer_itself_is_constant_along_that_dim():
    per_row = torch.arange(4.0).view(4, 1) + 1
    t = torch.zeros(4, 5, requires_grad=True)
    (t * per_row).sum().backward()
    mine = t.grad + torch.arange(4.0).view(4, 1) ** 2  # wrong, not a multiple, constant along dim 1
    assert "hint_constant_error" not in check("counts", mine, t).keys()


def test_scalar_answer_is_described_without_an_index():
    t = node(())
    verdict = check("loss", t.grad + 1, t)
    assert verdict.keys()[0] == "values_scalar"


def test_copying_autograds_answer_is_noticed():
    t = node(3)
    verdict = check("a", t.grad, t)
    assert verdict.status == "done" and verdict.keys() == ["copied"]


@pytest.mark.parametrize("weird", ["dlogprobs", torch.zeros(3, 3, dtype=torch.int64),
                                   torch.zeros(3, 3, dtype=torch.complex64), {"a": 1}])
def test_learner_mode_never_raises(capsys, weird):
    t = node(3, 3)
    result, lines = run(capsys, "a", weird, t)
    assert "wrong" in lines[0]
    assert torch.equal(result, t.grad)


# --- strict mode: a wrong answer fails its own check only ----------------------

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


def test_strict_failure_leaves_autograds_gradient_in_the_learners_variable(monkeypatch):
    """So the next exercise is graded on its own, not on this one's mistake."""
    monkeypatch.setenv("HANDGRAD_STRICT", "1")
    t = node(3, 2)
    namespace = {"cmp": cmp, "t": t, "dt": -t.grad}
    cell = "dt = cmp('t', dt, t)\n"
    linecache.cache["<cell-1>"] = (len(cell), None, [cell], "<cell-1>")  # as IPython does for a cell
    with pytest.raises(AssertionError):
        exec(compile(cell, "<cell-1>", "exec"), namespace)
    assert torch.equal(namespace["dt"], t.grad) and namespace["dt"].replaced == "wrong"


# --- rendering -------------------------------------------------------------------

def test_messages_in_italian(capsys):
    set_language("it")
    t = node(32, 1)
    _, lines = run(capsys, "counts_sum_inv", torch.zeros(32), t)
    assert "sbagliato" in lines[0]
    assert "forma sbagliata" in lines[1] and "keepdim=True" in " ".join(lines[2:])
    _, lines = run(capsys, "counts_sum_inv", ..., t)
    assert "da fare" in lines[0]


def test_every_message_has_both_languages_and_the_same_placeholders():
    field = re.compile(r"\{(\w+)")
    for key, texts in MESSAGES.items():
        assert set(texts) == set(LANGUAGES), key
        assert set(field.findall(texts["it"])) == set(field.findall(texts["en"])), key


@pytest.mark.parametrize("lang", LANGUAGES)
def test_every_line_fits_and_is_wrapped_at_word_boundaries(lang):
    set_language(lang)
    t = node(32, 27)
    for answer in (torch.zeros(32), torch.zeros(1, 27), np.zeros((32, 27)), 0.5 * t.grad, ..., [1.0]):
        verdict = check("counts (1)", answer, t, dname="dcounts1", tname="counts_leaf")
        report = verdict.report("counts (1)")
        lines = report.splitlines()
        assert all(len(line) <= WIDTH for line in lines), report
        # wrapped, not cut: joining the lines gives back every word of every note
        from handgrad.check import render
        words = " ".join(line.strip() for line in lines[1:]).split()
        assert words == " ".join(render(k, v) for k, v in verdict.notes).split()
    long_hint = check("counts (1)", torch.zeros(32), t, dname="dcounts1", tname="counts_leaf")
    assert len(long_hint.report("x").splitlines()) > 1 + len(long_hint.notes)  # a long hint was wrapped


def test_returned_gradient_is_not_echoed_but_computes_as_a_tensor(capsys):
    t = node(3, 1)
    result, _ = run(capsys, "a", t.grad.clone(), t)
    assert isinstance(result, Gradient) and isinstance(result, torch.Tensor)
    # IPython shows an object through _ipython_display_ when it has one: ours displays nothing
    from IPython.core.interactiveshell import InteractiveShell
    shell = InteractiveShell.instance()
    shell.displayhook(result)
    shell.displayhook(torch.ones(2))
    echoed = capsys.readouterr().out
    assert "tensor([1., 1.])" in echoed and str(round(float(result[0]), 4))[:5] not in echoed
    derived = result * 2 + 1
    assert type(derived) is torch.Tensor  # a new tensor is echoed as usual
    assert "tensor(" in repr(result)  # print() still shows the values


def test_autograds_stand_in_is_not_taken_for_the_learners_answer(capsys):
    """The recap must not say 'done' for an exercise the learner skipped: cmp marks its stand-in."""
    t = node(3, 1)
    carried = cmp("a", ..., t)
    verdict = check("a", carried, t)
    assert verdict.status == "todo" and verdict.keys() == ["still_autograd"]
    mine = cmp("a", t.grad.clone(), t)
    assert check("a", mine, t).status == "done"
    carried = cmp("a", -t.grad, t)  # a wrong answer stays wrong in the recap
    assert check("a", carried, t).status == "wrong"
    assert check("a", carried * 1.0, t).status == "done"  # a new tensor computed from it is the learner's own


def test_messages_name_the_learners_variable_not_the_label(capsys):
    """cmp('counts (1)', dcounts1, counts_leaf): the messages say dcounts1 and counts_leaf."""
    counts_leaf = node(32, 27)
    dcounts1 = torch.zeros(32)
    cmp('counts (1)', dcounts1, counts_leaf)
    text = capsys.readouterr().out
    assert "dcounts1 must have the shape of counts_leaf" in text and "counts (1))" not in text
    dcounts1 = ...
    carried = cmp('counts (1)', dcounts1, counts_leaf)
    assert "write dcounts1 in the exercise cell" in capsys.readouterr().out
    cmp('counts (1)', carried, counts_leaf)
    assert "dcounts1" in capsys.readouterr().out


def test_stand_in_names_the_exercise_it_stands_in_for(capsys):
    t, other = node(3, 1), node(3, 1, seed=1)
    carried = cmp("counts_sum_inv", ..., t)
    verdict = check("counts", carried, other)
    assert verdict.values("still_autograd") == {"dname": "dcounts_sum_inv"}


def test_verdict_as_data_is_json(capsys):
    import json
    t = node(32, 1)
    data = check("counts_sum_inv", torch.zeros(32), t).as_data("counts_sum_inv")
    again = json.loads(json.dumps(data))
    assert again["status"] == "wrong" and [n["key"] for n in again["notes"]][:2] == ["shape", "hint_keepdim"]


def test_right_values_in_a_shape_that_differs_only_by_size1_dims_are_done(capsys, monkeypatch):
    """The lecture's dbnmeani = (-dbndiff).sum(0) is [64] for a [1, 64] bnmeani: done, with a note."""
    bnmeani = node(1, 64)
    verdict = check("bnmeani", bnmeani.grad.reshape(64).clone(), bnmeani)
    assert verdict.status == "done" and verdict.keys() == ["loose_shape"]
    assert verdict.values("loose_shape")["fix"] == ".sum(0, keepdim=True)"
    assert verdict.carry.shape == (1, 64) and verdict.exact is True
    monkeypatch.setenv("HANDGRAD_STRICT", "1")  # the strict mode agrees
    assert cmp("bnmeani", bnmeani.grad.reshape(64).clone(), bnmeani).shape == (1, 64)
    for wrong in (torch.zeros(64), bnmeani.grad.reshape(64, 1).expand(64, 2).clone(), bnmeani.grad.reshape(8, 8)):
        with pytest.raises(AssertionError):
            cmp("bnmeani", wrong, bnmeani)


def test_an_extra_size1_dim_with_right_values_advises_dropping_keepdim():
    b2 = node(27)
    verdict = check("b2", b2.grad.reshape(1, 27).clone(), b2)
    assert verdict.status == "done" and verdict.keys() == ["loose_shape_extra"]
    assert verdict.values("loose_shape_extra")["fix"] == ".sum(0)" and verdict.carry.shape == (27,)


def test_a_square_answer_missing_a_column_names_the_right_dim():
    t = node(3, 3)
    values = check("x", torch.zeros(3, 1), t, dname="dx", tname="x").values("hint_replicate_back")
    assert values["dims"] == "1" and values["fix"] == "torch.ones_like(x) * dx"


@pytest.mark.parametrize("lang, answer", [("it", (3, 3)), ("en", (3,)), ("it", (2, 3, 3))])
def test_wrapping_never_splits_a_shape_or_a_call(lang, answer):
    """Plain word wrapping would end these lines in `.sum(1,` or `[2, 3,` (found by trying)."""
    set_language(lang)
    report = check("b", torch.zeros(*answer), node(3, 1), dname="db", tname="b").report("b")
    assert "keepdim=True)" in report or "[2, 3, 3]" in report
    for line in report.splitlines():
        assert line.count("[") == line.count("]") and line.count("(") == line.count(")"), line


def test_a_square_gradient_written_transposed_is_named():
    t = node(2, 2)
    keys = check("B", t.grad.T.clone(), t).keys()
    assert "hint_transposed_values" in keys


def test_italian_numbers_have_a_decimal_comma_and_code_keeps_its_dot():
    set_language("it")
    t = node(3, 1)
    report = check("b", 0.5 * t.grad, t).report("b")
    assert "moltiplicata per 0,5" in report
    report = check("b", torch.zeros(3), t).report("b")
    assert ".sum(1, keepdim=True)" in report


def test_a_one_element_answer_for_a_scalar_gets_no_keepdim_advice():
    loss = node(())
    verdict = check("loss", loss.grad.reshape(1).clone(), loss)
    assert verdict.status == "done" and verdict.keys() == ["loose_shape_scalar"] and verdict.carry.shape == ()


def test_a_tiny_reference_is_pointed_out_when_the_answer_is_not_really_close():
    t = torch.zeros(4, 1, requires_grad=True)
    (t * 6e-9).sum().backward()  # like dlogit_maxes: a few 1e-9
    verdict = check("logit_maxes", torch.zeros(4, 1), t)
    assert verdict.status == "done" and verdict.keys() == ["tiny_reference"]
    assert check("logit_maxes", t.grad.clone(), t).keys() == []  # the right answer gets no note


def test_a_noise_level_reference_accepts_a_noise_level_answer():
    """db1 before batchnorm is rounding noise: a right answer may differ from autograd's by more than 1e-8."""
    t = torch.zeros(64, requires_grad=True)
    (t * 3e-9).sum().backward()
    verdict = check("b1", t.grad + 4e-8, t)
    assert verdict.status == "done" and verdict.approximate is True and verdict.keys() == ["tiny_reference"]
    assert check("b1", t.grad + 1e-4, t).status == "wrong"  # a real mistake is still wrong


def test_dimensions_are_named_as_a_teacher_says_them_in_each_language():
    from handgrad.i18n import say
    set_language("it")
    one = say("hint_constant_error", dim=1)
    several = say("hint_replicate_back", dname="dx", tname="x", dims="0, 1", fix="f")
    assert "lungo la dimensione 1:" in one and "lungo le dimensioni 0 e 1 " in several and "dim " not in one
    set_language("en")
    assert "along dim 1:" in say("hint_constant_error", dim=1)
    assert "along dims 0 and 1 " in say("hint_replicate_back", dname="dx", tname="x", dims="0, 1", fix="f")


def test_num_writes_a_number_as_the_notebooks_language_does():
    from handgrad import num, yes_no
    set_language("it")
    assert num(0.5) == "0,5" and num(torch.tensor(2.25), ".1f") == "2,2" and num(3) == "3" and yes_no(True) == "sì"
    assert num(2188800.5, ",.1f") == "2 188 800,5"
    set_language("en")
    assert num(0.5) == "0.5" and num(torch.tensor(2.25), ".1f") == "2.2" and yes_no(False) == "no"
    assert num(2188800, ",") == "2,188,800"


def test_a_bare_cmp_line_does_not_promise_a_gradient_to_carry_on_with(tmp_path, capsys):
    # a recap line keeps nothing, so it must not say "using autograd's gradient so you can carry on"
    script = tmp_path / "recap.py"
    script.write_text("import torch\nfrom handgrad import cmp, set_language\nset_language('en')\n"
                      "x = torch.ones(3, requires_grad=True)\n(2 * x).sum().backward()\n"
                      "dx = cmp('x', ..., x)\nprint('--kept above, bare below--')\n"
                      "cmp('x', ..., x)\ncmp('x', torch.zeros(3), x)\n")
    runpy.run_path(str(script))
    kept, bare = capsys.readouterr().out.split("--kept above, bare below--")
    assert "meanwhile, using autograd's gradient" in kept
    assert "write dx in the exercise cell" in bare and "autograd's gradient" not in bare
    assert "wrong values" in bare


def test_a_check_made_in_a_loop_names_the_variable_it_is_given(capsys):
    set_language("en")
    t = node(3, 1)
    answers = {"b": ...}
    for label, answer in answers.items():
        cmp(label, answer, t, dname="db_ex1")
    assert "write db_ex1 in the exercise cell" in capsys.readouterr().out
