"""`cmp(name, dt, t)`: the lecture's check, made into a patient teacher.

It prints the lecture's row (exact / approximate / maxdiff) followed by a
status: done, wrong (with a diagnosis), or to do. In learner mode it never
raises on a learner's mistake and hands back the gradient to carry on with
(the learner's if right, autograd's otherwise), so every exercise can be done
on its own. In strict mode (solutions, CI, nbgrader's autograder) anything but
"approximately right" raises AssertionError.
"""
import os
import warnings
from dataclasses import dataclass, field

import torch

from .i18n import say

STRICT_ENV = "HANDGRAD_STRICT"


def strict_mode():
    """Strict when HANDGRAD_STRICT=1, or when nbgrader is grading or validating the notebook."""
    if os.environ.get(STRICT_ENV, "").lower() in ("1", "true", "yes"):
        return True
    return os.environ.get("NBGRADER_EXECUTION", "") in ("autograde", "validate")


@dataclass
class Verdict:
    """What `check` found: a status, the lecture's three numbers, diagnosis lines, the gradient to carry on with."""
    status: str  # "done", "wrong" or "todo"
    exact: object = "-"
    approximate: object = "-"
    maxdiff: object = "-"
    lines: list = field(default_factory=list)
    carry: object = None

    def row(self, name):
        return (f"{name:15s} | exact: {str(self.exact):5s} | approximate: {str(self.approximate):5s} "
                f"| maxdiff: {self.maxdiff} | {say(self.status)}")

    def report(self, name):
        return "\n".join([self.row(name)] + self.lines)


def _shape(size):
    return list(size)


def _where(index):
    return "[" + ", ".join(str(i) for i in index) + "]"


def _sum_fix(dims, keepdim=True):
    dims = tuple(dims)
    arg = str(dims[0]) if len(dims) == 1 else str(dims)
    return f".sum({arg}, keepdim=True)" if keepdim else f".sum({arg})"


def shape_hints(got, want, name):
    """Why a gradient may have shape `got` instead of `want`: the usual broadcasting mistakes."""
    got, want = tuple(got), tuple(want)
    ones = [i for i, d in enumerate(want) if d == 1]
    wrong_dim = [say("hint_wrong_dim", want=_shape(want), dims=_where(ones)[1:-1], fix=_sum_fix(ones))] if ones else []
    if len(want) == 2 and got == want[::-1] and got != want:
        # [1, 3] for [3, 1]: more often a sum over the wrong dim than a missing .T
        return wrong_dim + [say("hint_transposed")]
    if [d for d in got if d != 1] == [d for d in want if d != 1] and ones:
        return [say("hint_keepdim", fix=_sum_fix(ones))]
    try:
        replicated = torch.broadcast_shapes(want, got) == torch.Size(got)
    except RuntimeError:
        replicated = False
    if replicated and len(got) >= len(want):
        extra = len(got) - len(want)
        padded = (1,) * extra + want
        dims = [i for i in range(len(got)) if padded[i] == 1 and got[i] != 1]
        if extra:  # dimensions that `want` does not even have: sum them away
            fix = _sum_fix(range(extra), keepdim=False)
            if len(dims) > extra:
                fix += _sum_fix([d - extra for d in dims[extra:]])
        else:
            fix = _sum_fix(dims)
        return [say("hint_sum_replicated", name=name, dims=_where(dims)[1:-1], fix=fix)]
    return wrong_dim


def value_hints(dt, ref):
    """Where the values go wrong, and whether the answer is the right one with a flipped sign or a stray factor."""
    error = dt - ref
    diff = error.abs()
    index = torch.unravel_index(diff.argmax(), diff.shape) if diff.dim() else ()
    index = tuple(int(i) for i in index)
    if index:
        lines = [say("values", maxdiff=diff.max().item(), where=_where(index),
                     mine=dt[index].item(), ref=ref[index].item())]
    else:
        lines = [say("values_scalar", mine=dt.item(), ref=ref.item())]
    for dim in range(dt.dim() if dt.dim() >= 2 else 0):
        spread = (error - error.mean(dim, keepdim=True)).abs().max()
        if dt.shape[dim] > 1 and spread <= 1e-4 * error.abs().max():
            lines.append(say("hint_constant_error", dim=dim))
            break
    bad = int((~torch.isclose(dt, ref)).sum())
    if ref.abs().max() > 0:
        if torch.allclose(dt, -ref):
            lines.append(say("hint_sign"))
        else:
            factor = ((dt * ref).sum() / (ref * ref).sum()).item()
            if abs(factor - 1) > 1e-3 and torch.allclose(dt, factor * ref, rtol=1e-4, atol=1e-7):
                overwritten = say("overwritten") if 0 < factor < 1 else ""
                lines.append(say("hint_scale", factor=factor, overwritten=overwritten))
    if 0 < bad < dt.numel():
        lines.append(say("hint_rows", bad=bad, total=dt.numel()))
    return lines


def _kind(value):
    module = type(value).__module__
    if module.startswith("numpy"):
        return f"numpy.{type(value).__name__}", "hint_numpy"
    if isinstance(value, (list, tuple)):
        return type(value).__name__, "hint_list"
    if isinstance(value, (int, float, complex, bool)):
        return f"{type(value).__name__} {value!r}", "hint_number"
    return type(value).__name__, None


def check(name, dt, t):
    """Compare a hand-made gradient `dt` with autograd's `t.grad`; never raises on a learner's answer."""
    if not isinstance(t, torch.Tensor):
        return Verdict("wrong", lines=[say("no_reference", name=name)])
    with warnings.catch_warnings():  # our own message says it better than torch's warning
        warnings.simplefilter("ignore", UserWarning)
        ref = t.grad
    if ref is None:
        return Verdict("wrong", lines=[say("no_grad", name=name)], carry=dt)
    autograd = ref.detach().clone()
    dname = f"d{name}" if name.isidentifier() else say("your_answer")
    if dt is None or dt is Ellipsis:
        return Verdict("todo", lines=[say("todo_line", dname=dname)], carry=autograd)
    if isinstance(dt, Gradient) and dt.replaced:
        return Verdict(dt.replaced, lines=[say("still_autograd", dname=dt.dname)], carry=autograd)
    wrong = lambda *lines: Verdict("wrong", lines=list(lines) + [say("carry_on_autograd")], carry=autograd)
    if not isinstance(dt, torch.Tensor):
        kind, hint = _kind(dt)
        shape = _shape(ref.shape) if ref.dim() else say("scalar_shape")
        extra = say(hint, name=name, shape=shape) if hint else ""
        return wrong(say("not_tensor", kind=kind, hint=extra))
    dt = dt.detach()
    if dt.shape != ref.shape:
        return wrong(say("shape", want=_shape(ref.shape), name=name, got=_shape(dt.shape)),
                     *shape_hints(dt.shape, ref.shape, name))
    if dt.device != ref.device:
        return wrong(say("device", want=ref.device, got=dt.device))
    if dt.dtype != ref.dtype:
        return wrong(say("dtype", want=ref.dtype, got=dt.dtype))
    finite = torch.isfinite(dt)
    if not finite.all():
        first = tuple(int(i) for i in (~finite).nonzero()[0])
        return wrong(say("nonfinite", count=int((~finite).sum()), where=_where(first)))
    exact = torch.all(dt == ref).item()
    approximate = torch.allclose(dt, ref)
    maxdiff = (dt - ref).abs().max().item()
    if not approximate:
        verdict = wrong(*value_hints(dt, ref))
    else:
        lines = [say("copied", name=name)] if dt.data_ptr() == ref.data_ptr() else []
        verdict = Verdict("done", lines=lines, carry=dt)
    verdict.exact, verdict.approximate, verdict.maxdiff = exact, approximate, maxdiff
    return verdict


class Gradient(torch.Tensor):
    """The tensor `cmp` hands back: an ordinary tensor that Jupyter does not echo under the row.

    Without this, a cell ending in a bare `cmp(...)` would print a whole
    [32, 27] tensor below the lecture's row. Operations on it give plain tensors.
    """

    @classmethod
    def __torch_function__(cls, func, types, args=(), kwargs=None):
        with torch._C.DisableTorchFunctionSubclass():
            return func(*args, **(kwargs or {}))

    replaced = None  # "todo" or "wrong" when this is autograd's gradient standing in for the learner's answer
    dname = ""  # the exercise it stands in for, to name it if it comes back

    def _ipython_display_(self):
        pass

    def __repr__(self, **kwargs):
        return repr(self.as_subclass(torch.Tensor))


def cmp(name, dt, t, strict=None):
    """Check the gradient `dt` of `t` against autograd, print the lecture's row and a status.

    Returns the gradient to carry on with. `strict=None` follows the
    environment (see `strict_mode`); `strict=False` shows a diagnosis even
    while the solutions are being executed.
    """
    try:
        verdict = check(name, dt, t)
    except Exception as error:  # a learner's answer must never end in a traceback
        carry = t.grad.detach().clone() if isinstance(t, torch.Tensor) and t.grad is not None else None
        verdict = Verdict("wrong", lines=[say("broken", error=error)], carry=carry)
    print(verdict.report(name))
    if (strict_mode() if strict is None else strict) and verdict.status != "done":
        raise AssertionError(say("strict", name=name))
    if isinstance(verdict.carry, torch.Tensor):
        carry = verdict.carry.as_subclass(Gradient)
        carry.replaced = None if verdict.status == "done" else verdict.status
        carry.dname = f"d{name}" if name.isidentifier() else say("your_answer")
        return carry
    return verdict.carry
