"""handgrad.training: lesson 09's multi-step check agrees with cmp on shapes and catches a wrong backward."""
import torch

from handgrad import set_language
from handgrad.training import check_steps, disagreement


def test_disagreement_accepts_what_cmp_accepts_and_names_the_rest():
    set_language("en")
    ref = torch.randn(1, 5)
    assert disagreement(ref.reshape(5).clone(), ref) is None  # keepdim forgotten: cmp says done too
    assert disagreement(..., ref) == "to do"
    assert disagreement(torch.zeros(5, 2), ref) == "shape [5, 2] instead of [1, 5]"
    assert disagreement(ref.double(), ref).startswith("dtype")
    assert disagreement(ref + 1e-3, ref) == "different values"
    assert disagreement(3.0, ref) == "not a tensor (float)"


def _tiny_model():
    """y = x @ W + b, mean squared error: small enough to differentiate by hand in a test."""
    g = torch.Generator().manual_seed(0)
    params = {"W": torch.randn(3, 2, generator=g, requires_grad=True),
              "b": torch.randn(1, 2, generator=g, requires_grad=True)}

    def forward_pass(Xb, Yb):
        out = Xb @ params["W"] + params["b"]
        loss = ((out - Yb) ** 2).mean()
        return loss, {"out": out}, None

    def batches():
        return torch.randn(4, 3, generator=g), torch.randn(4, 2, generator=g)

    return params, forward_pass, batches


def test_check_steps_passes_a_right_backward_and_fails_a_wrong_one(capsys):
    set_language("en")
    params, forward_pass, batches = _tiny_model()

    def right(Xb, Yb, out):
        dout = 2 * (out - Yb) / out.numel()
        return {"W": Xb.T @ dout, "b": dout.sum(0)}  # [2] for the [1, 2] b: accepted, as cmp accepts it

    def wrong(Xb, Yb, out):
        dout = 2 * (out - Yb) / out.numel()
        return {"W": Xb.T @ dout, "b": dout.sum(0) * 2}

    def broken(Xb, Yb, out):
        raise NameError("dW")

    assert check_steps(forward_pass, right, params, batches, steps=3) is True
    assert check_steps(forward_pass, wrong, params, batches, steps=3) is False
    assert "different values: b" in capsys.readouterr().out
    assert check_steps(forward_pass, broken, params, batches, steps=3) is False
    assert "stops with an error: dW" in capsys.readouterr().out
