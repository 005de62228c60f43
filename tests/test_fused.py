"""handgrad.fused: the lecture's one-expression backward passes agree with autograd on the reference step."""
import torch

from handgrad import reference_step
from handgrad.fused import batchnorm_backward, cross_entropy_backward


def test_cross_entropy_backward_matches_autograd():
    t = reference_step().tensors
    with torch.no_grad():
        dlogits = cross_entropy_backward(t["logits"], t["Yb"])
    assert dlogits.shape == t["logits"].shape
    assert torch.allclose(dlogits, t["logits"].grad, atol=1e-7)


def test_batchnorm_backward_matches_autograd():
    t = reference_step().tensors
    with torch.no_grad():
        dhprebn = batchnorm_backward(t["hpreact"].grad, t["bngain"], t["bnvar_inv"], t["bnraw"])
    assert dhprebn.shape == t["hprebn"].shape
    assert torch.allclose(dhprebn, t["hprebn"].grad, atol=1e-7)


def test_the_typical_mistakes_are_wrong():
    t = reference_step().tensors
    with torch.no_grad():
        assert not torch.allclose(cross_entropy_backward(t["logits"], t["Yb"], forget="target"), t["logits"].grad)
        for forget in ("bessel", "mean"):
            wrong = batchnorm_backward(t["hpreact"].grad, t["bngain"], t["bnvar_inv"], t["bnraw"], forget=forget)
            assert not torch.allclose(wrong, t["hprebn"].grad)
