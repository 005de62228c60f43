"""handgrad.bench: every step makes autograd's update; the stopwatch's logic; make bench's exit status.

Nothing here depends on how fast the machine is: the timing functions run
with tiny counts and are checked for what they record, not for the numbers.
"""
import json
import os
import time

import pytest
import torch
import torch.nn.functional as F
from torch.utils.flop_counter import FlopCounterMode

from handgrad import bench


@pytest.fixture(scope="module")
def problem():
    return bench.make_problem()


@pytest.mark.parametrize("variant", ["fused", "optimised"])
@pytest.mark.parametrize("sizes", [(32, 200), (7, 13)], ids=["lecture", "odd-sizes"])
def test_one_manual_step_makes_autograds_update(variant, sizes):
    batch_size, n_hidden = sizes
    problem = bench.make_problem(n_hidden=n_hidden, batch_size=batch_size, n_batches=2)
    step, _ = bench.make_step(variant, problem)
    diffs, ok = bench.same_update(problem, {variant: step})
    assert ok, diffs
    # the update is not empty: every parameter moved (but b1, whose gradient batchnorm makes ~0, lesson 08)
    start = problem.params
    P = problem.copy_params()
    step(P, *problem.batches[0], problem.lr)
    assert all(not torch.equal(P[k], start[k]) for k in bench.PARAM_NAMES if k != "b1")


def test_the_optimised_step_with_and_without_buffers_agrees_over_several_steps(problem):
    """Buffers are reused from step to step: no step may see the previous one's numbers."""
    ref = problem.copy_params(requires_grad=True)
    with_buffers, P1 = bench.make_step("optimised", problem, buffers=True)
    without, P2 = bench.make_step("optimised", problem, buffers=False)
    for Xb, Yb in problem.batches[:4]:
        bench.step_autograd(ref, Xb, Yb, problem.lr)
        with_buffers(P1, Xb, Yb, problem.lr)
        without(P2, Xb, Yb, problem.lr)
    for k in bench.PARAM_NAMES:
        assert torch.allclose(P1[k], ref[k].detach(), rtol=1e-4, atol=1e-5), k
        assert torch.allclose(P2[k], P1[k], rtol=1e-5, atol=1e-6), k


@pytest.mark.skipif(os.environ.get("HANDGRAD_COMPILE_TEST") != "1",
                    reason="torch.compile takes 20-40 s: `make bench` checks the compiled update "
                           "(set HANDGRAD_COMPILE_TEST=1 to run it here)")
def test_the_compiled_step_makes_autograds_update(problem):
    compiled = bench.compile_step(threads=1)
    diffs, ok = bench.same_update(problem, {"compiled": compiled})
    assert ok, diffs


def test_a_wrong_step_is_caught(problem):
    def forgets_bessel(P, Xb, Yb, lr):
        bench.step_fused(P, Xb, Yb, lr)
        P["bngain"] += 1e-3  # any visible difference
    diffs, ok = bench.same_update(problem, {"wrong": forgets_bessel})
    assert not ok and diffs["wrong"]["bngain"] > 1e-4


def test_time_steps_warms_up_interleaves_and_rotates():
    calls = []
    runners = {name: (lambda name=name: calls.append(name)) for name in ("a", "b", "c")}
    every = {}
    seconds = bench.time_steps(runners, rounds=4, steps=2, warmup=3, threads=1, every_step=every)
    assert calls[:9] == ["a"] * 3 + ["b"] * 3 + ["c"] * 3
    turns = calls[9:]
    assert len(turns) == 4 * 3 * (1 + 2)  # each turn: one untimed step, then two timed
    firsts = [turns[i] for i in range(0, len(turns), 3)]
    assert firsts == ["a", "b", "c", "b", "c", "a", "c", "a", "b", "a", "b", "c"]
    assert {k: len(v) for k, v in seconds.items()} == {"a": 4, "b": 4, "c": 4}
    assert {k: len(v) for k, v in every.items()} == {"a": 8, "b": 8, "c": 8}
    assert torch.get_num_threads() >= 1


def test_time_steps_restores_the_thread_count():
    before = torch.get_num_threads()
    bench.time_steps({"a": lambda: None}, rounds=1, steps=1, warmup=0, threads=1)
    assert torch.get_num_threads() == before


def test_summarise_gives_medians_spread_and_paired_speedups():
    seconds = {"autograd": [4e-6, 4e-6, 8e-6, 4e-6, 4e-6], "fused": [2e-6, 2e-6, 4e-6, 2e-6, 100e-6]}
    table = bench.summarise(seconds)
    assert table["autograd"]["median_us"] == pytest.approx(4.0)
    assert table["fused"]["median_us"] == pytest.approx(2.0)
    assert table["fused"]["min_us"] == pytest.approx(2.0)
    assert table["fused"]["q1_us"] <= table["fused"]["median_us"] <= table["fused"]["q3_us"]
    assert table["fused"]["speedup"] == pytest.approx(2.0)  # round by round: 2, 2, 2, 2, 0.04
    assert table["autograd"]["speedup"] == pytest.approx(1.0)
    assert "autograd ÷ variant" in bench.format_table(table)


def phase(speedups, same=True):
    table = {name: dict(median_us=100 / s, speedup=s) for name, s in speedups.items()}
    return dict(threads=1, same_update=same, table=table)


def test_exit_status_fails_when_a_manual_variant_is_slower_than_autograd():
    fine = phase({"autograd": 1.0, "fused": 1.3, "optimised": 2.0})
    slow = phase({"autograd": 1.0, "fused": 0.9, "optimised": 2.0})
    assert bench.exit_status({"phases": [fine]}) == 0
    assert bench.exit_status({"phases": [fine, slow]}) == 1
    assert bench.slower_than_autograd(slow["table"]) == ["fused"]
    assert bench.exit_status({"phases": [phase({"autograd": 1.0, "fused": 1.3}, same=False)]}) == 1


def test_make_bench_fails_on_a_slow_manual_variant_and_writes_the_json(tmp_path, capsys):
    def slow_fused(problem):
        step, P = bench.make_step("fused", problem)

        def slower(P, Xb, Yb, lr):
            step(P, Xb, Yb, lr)
            time.sleep(0.003)
        return slower, P

    out = tmp_path / "bench.json"
    status = bench.main(["--rounds", "3", "--steps", "1", "--warmup", "1", "--threads", "1",
                         "--variants", "autograd", "fused", "--json", str(out)], factories={"fused": slow_fused})
    assert status == 1
    report = json.loads(out.read_text())
    (one,) = report["phases"]
    assert one["threads"] == 1 and one["same_update"] and one["table"]["fused"]["speedup"] < 1
    assert len(one["samples_us"]["fused"]) == 3
    assert report["flops"]["matmul"] == 2_188_800
    assert report["gradcheck_float64"] == {"cross_entropy": True, "batchnorm": True}
    assert report["exit_status"] == 1
    printed = capsys.readouterr().out
    assert "FAIL: fused slower than autograd with 1 thread(s)" in printed
    assert "autograd ÷ variant" in printed


def test_step_flops_counts_the_matmuls_as_torch_does(problem):
    P = problem.copy_params(requires_grad=True)
    with FlopCounterMode(display=False) as counter:
        bench.step_autograd(P, *problem.batches[0], problem.lr)
    flops = bench.step_flops()
    assert counter.get_total_flops() == flops["matmul"] == 3 * flops["forward_matmul"]
    assert flops["elementwise"] < flops["matmul"] / 5


def test_the_optimised_step_makes_fewer_operations(problem):
    counts = {}
    for variant in ("autograd", "fused", "optimised"):
        step, P = bench.make_step(variant, problem)
        counts[variant], calls = bench.count_ops(step, P, *problem.batches[0])
        assert sum(calls.values()) == counts[variant]
    assert counts["optimised"] < counts["fused"] < counts["autograd"]


def test_the_fused_formulas_pass_gradcheck_in_float64():
    assert bench.gradcheck_fused() == {"cross_entropy": True, "batchnorm": True}


def test_gradcheck_catches_a_batchnorm_backward_without_bessels_correction():
    class NoBessel(bench.FusedBatchNorm):
        @staticmethod
        def backward(ctx, dhpreact):
            bngain, bnraw, bnvar_inv = ctx.saved_tensors
            n = ctx.n
            dhprebn = bngain * bnvar_inv / n * (n * dhpreact - dhpreact.sum(0)
                                                - bnraw * (dhpreact * bnraw).sum(0))
            return dhprebn, (bnraw * dhpreact).sum(0, keepdim=True), dhpreact.sum(0, keepdim=True)

    g = torch.Generator().manual_seed(1)
    inputs = [torch.randn(6, 4, generator=g, dtype=torch.float64).requires_grad_(),
              torch.ones(1, 4, dtype=torch.float64, requires_grad=True),
              torch.zeros(1, 4, dtype=torch.float64, requires_grad=True)]
    assert torch.autograd.gradcheck(bench.FusedBatchNorm.apply, inputs, raise_exception=False)
    assert not torch.autograd.gradcheck(NoBessel.apply, inputs, raise_exception=False)


def test_fused_cross_entropy_is_the_formula_of_lesson_07():
    logits = torch.randn(5, 4, dtype=torch.float64, requires_grad=True)
    Yb = torch.tensor([0, 3, 1, 1, 2])
    bench.FusedCrossEntropy.apply(logits, Yb).backward()
    expected = (F.softmax(logits, 1) - F.one_hot(Yb, 4)) / 5
    assert torch.allclose(logits.grad, expected.detach())
