"""Lesson 09's check over a few training steps: your backward pass against autograd while batches change.

One batch checked with `cmp` is not yet a training run: the training loop calls the learner's
`manual_backward` on a new batch every time, with parameters that keep moving. `check_steps` takes a
few steps of gradient descent along autograd's gradients and compares the learner's seven parameter
gradients with autograd's at every step. The learner reads what it prints, never this code, so it
lives here and the notebook shows only the call.

It accepts exactly what `cmp` accepts: a gradient whose shape differs from its parameter's only by
size-1 dimensions (`[200]` for the `[1, 200]` `bngain`) is right, and is reshaped, as `cmp` reshapes
it. A lesson in which `cmp` says "done" and this check says "wrong shape" would leave the learner
with two teachers who disagree.
"""
import torch

from .check import _same_but_size1
from .i18n import num, tr

# float32 rounding differences are themselves ~1e-8, cmp's atol; over many batches a correct backward
# pass would now and then exceed it (db1, whose true gradient is zero, most of all). A real mistake
# moves the gradients by far more (a forgotten Bessel factor: a few 1e-4 in dW1 and dC).
ATOL = 1e-6


def autograd_gradients(forward_pass, params, Xb, Yb):
    """The loss and autograd's gradients of `params` (a dict, name -> tensor) on one batch, by name.

    `torch.autograd.grad` hands the gradients back instead of adding them into each parameter's
    `.grad`, so the `.grad` of the lesson's first batch, the one `cmp` compares with, stays as it
    was. `enable_grad` switches autograd back on even when the caller runs inside `no_grad`.
    `forward_pass(Xb, Yb)` must return the loss first (the lesson's returns loss, cache, hprebn).
    """
    with torch.enable_grad():
        loss = forward_pass(Xb, Yb)[0]
        grads = torch.autograd.grad(loss, list(params.values()))
    return loss.detach(), dict(zip(params, grads))


def as_shape(mine, reference):
    """`mine` reshaped to `reference`'s shape when the two differ only by size-1 dimensions, as `cmp` does.

    Anything else (not a tensor, or a really different shape) comes back unchanged, for
    `disagreement` to name.
    """
    if (isinstance(mine, torch.Tensor) and mine.shape != reference.shape
            and _same_but_size1(mine.shape, reference.shape)):
        return mine.reshape(reference.shape)
    return mine


def disagreement(mine, reference, atol=ATOL):
    """None when your gradient matches autograd's up to float32 rounding; otherwise what is wrong, in words.

    The relative tolerance is `cmp`'s (that of `torch.allclose`); only the absolute one is wider, `atol`.
    """
    if mine is None or mine is Ellipsis:
        return tr("da fare", "to do")
    if not isinstance(mine, torch.Tensor):
        return tr(f"non è un tensore ({type(mine).__name__})", f"not a tensor ({type(mine).__name__})")
    mine = as_shape(mine, reference)
    if mine.shape != reference.shape:
        return tr(f"forma {list(mine.shape)} invece di {list(reference.shape)}",
                  f"shape {list(mine.shape)} instead of {list(reference.shape)}")
    if mine.dtype != reference.dtype:
        return tr(f"tipo {mine.dtype} invece di {reference.dtype}", f"dtype {mine.dtype} instead of {reference.dtype}")
    if not torch.allclose(mine, reference, atol=atol):
        return tr("valori diversi", "different values")
    return None


def check_steps(forward_pass, manual_backward, params, next_batch, steps=5, lr=0.1):
    """`steps` steps of gradient descent along autograd's gradients, comparing yours with them at every step.

    The steps follow autograd, so they are the same whether or not the learner's backward pass is
    written yet, and they do move `params` in place (the training then starts from there). Prints one
    line per step and a conclusion; returns True when all seven gradients agreed at every step.
    A `manual_backward` that raises is reported, not propagated: the notebook must run to the end.
    """
    all_agree = True
    for step in range(1, steps + 1):
        Xb, Yb = next_batch()
        _, reference = autograd_gradients(forward_pass, params, Xb, Yb)
        with torch.no_grad():
            _, cache, *_ = forward_pass(Xb, Yb)
            try:
                mine = manual_backward(Xb, Yb, **cache)
            except Exception as error:  # a half-written backward pass must not stop the notebook
                print(tr(f"passo {step}: il tuo backward si ferma con un errore: {error}",
                         f"step {step}: your backward pass stops with an error: {error}"))
                all_agree = False
                break
            wrong = {name: disagreement(mine.get(name), reference[name]) for name in params}
            wrong = {name: why for name, why in wrong.items() if why}
            agree = [name for name in params if name not in wrong]
            maxdiff = max(((as_shape(mine[name], reference[name]) - reference[name]).abs().max().item()
                           for name in agree), default=0.0)
            for name, p in params.items():
                p.data += -lr * reference[name]
        line = tr(f"passo {step}: {len(agree)} gradienti su {len(params)} concordano con autograd",
                  f"step {step}: {len(agree)} gradients out of {len(params)} agree with autograd")
        if wrong:
            reasons = {}
            for name, why in wrong.items():
                reasons.setdefault(why, []).append(name)
            line += " · " + "; ".join(f"{why}: {', '.join(names)}" for why, names in reasons.items())
        else:
            line += f" · maxdiff {num(maxdiff, '.1e')}"
        print(line)
        all_agree = all_agree and not wrong
    if all_agree:
        print(tr("✅ Il tuo backward concorda con autograd a ogni passo: il training userà il tuo backward.",
                 "✅ Your backward pass agrees with autograd at every step: training will use it."))
    else:
        print(tr("❌ Il tuo backward non concorda ancora con autograd. Il training qui sotto userà i gradienti\n"
                 "   di autograd, perché il notebook arrivi in fondo: loss, curva e nomi saranno di autograd, non tuoi.",
                 "❌ Your backward pass does not agree with autograd yet. The training below will use autograd's\n"
                 "   gradients, so that the notebook runs to the end: loss, curve and names will be autograd's, not yours."))
    return all_agree
