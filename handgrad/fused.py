"""The lecture's fused backward passes (Exercises 2 and 3 of "becoming a backprop ninja").

Lessons 07 and 08 ask the learner to derive these two expressions; the lessons' later sections
(the stopwatch, the float64 comparison) import them from here, so that the notebooks never show
the answer as plain code.

``forget`` drops one piece of a formula on purpose, for the lessons' "typical mistakes" demos.
"""
import torch
import torch.nn.functional as F


def cross_entropy_backward(logits, Yb, forget=None):
    """Gradient of ``F.cross_entropy(logits, Yb)`` (the batch mean) with respect to ``logits``.

    dlogits = (softmax(logits) - onehot(Yb)) / n, the softmax taken along each row.
    ``forget="target"`` leaves out the 1 subtracted at the target character (a typical mistake).
    """
    n = logits.shape[0]
    dlogits = F.softmax(logits, 1)
    if forget != "target":
        dlogits[range(n), Yb] -= 1
    dlogits /= n
    return dlogits


def batchnorm_backward(dhpreact, bngain, bnvar_inv, bnraw, forget=None):
    """Gradient of the batchnorm input ``hprebn`` from the gradient ``dhpreact`` of its output.

    With s = bnvar_inv and x̂ = bnraw, column by column (sums over the n rows):
    dhprebn = γ s / n · (n·dy − Σ dy − n/(n−1) · x̂ · Σ dy·x̂).
    ``forget="bessel"`` writes 1 instead of n/(n−1); ``forget="mean"`` leaves out the path
    through the mean (the term −Σ dy). Both are typical mistakes.
    """
    n = dhpreact.shape[0]
    bessel = 1.0 if forget == "bessel" else n / (n - 1)
    mean_path = 0 if forget == "mean" else dhpreact.sum(0)
    return bngain * bnvar_inv / n * (n * dhpreact - mean_path - bessel * bnraw * (dhpreact * bnraw).sum(0))
