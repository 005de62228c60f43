"""One training step, four ways, on the clock: lesson 10 and `make bench`.

The step is Exercise 4 of the lecture: forward pass, backward pass, SGD update
of the seven parameters, for the lecture's MLP (`n_embd` 10, `block_size` 3,
`n_hidden` 200, batch 32). The four ways:

- `autograd`: `loss.backward()`, then `p.data += -lr * p.grad`;
- `fused`: the hand-written backward of lessons 07-09 (`dlogits` and `dhprebn`
  in one expression each, `dC` with `index_add_`), same update;
- `optimised`: the same formulas with fewer operations: `addmm`, in-place
  updates that fold the gradient into the parameter (`W2.addmm_(h.T, dlogits,
  alpha=-lr)`), `scatter_add_` instead of `[range(n), Yb]`, `index_add_` straight
  into `C`, optional preallocated buffers;
- `compiled`: `step_optimised` under `torch.compile` (inductor, C++ on the CPU).

Every way computes the same update (`same_update` checks it); `time_steps`
times them interleaved; `main` is `python -m handgrad.bench` (`make bench`).
The module also holds what lesson 10 uses to explain the times (FLOP count,
operation count, the CPU's matmul speed) and to check the fused formulas in
float64 (`FusedCrossEntropy`, `FusedBatchNorm`, `gradcheck_fused`).
"""
import argparse
import functools
import itertools
import json
import os
import platform
import shutil
import statistics
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F

from . import fused
from .data import build_vocab, load_words, split_dataset
from .model import SEED, init_params

PARAM_NAMES = ("C", "W1", "b1", "W2", "b2", "bngain", "bnbias")
VARIANTS = ("autograd", "fused", "optimised", "compiled")
MANUAL = ("fused", "optimised", "compiled")
LR = 0.1
EPS = 1e-5  # batchnorm's epsilon, as in the lecture


# --- the problem: data, parameters, batches ----------------------------------

@functools.lru_cache(maxsize=4)
def load_training_set(names_path=None, block_size=3):
    """The lecture's training split (Xtr, Ytr) and the vocabulary size; built once per process."""
    words = load_words(names_path)
    stoi, _ = build_vocab(words)
    (Xtr, Ytr), _, _ = split_dataset(words, stoi, block_size)
    return Xtr, Ytr, len(stoi)


@dataclass
class Problem:
    """Starting parameters (plain tensors, no grad) and a few batches to cycle through."""
    params: dict
    batches: list
    batch_size: int
    n_hidden: int
    n_embd: int
    block_size: int
    vocab_size: int
    lr: float = LR

    def copy_params(self, requires_grad=False):
        """A fresh copy of the starting parameters, for one variant to train on its own."""
        return {k: v.detach().clone().requires_grad_(requires_grad) for k, v in self.params.items()}


def make_problem(n_hidden=200, batch_size=32, n_embd=10, block_size=3, n_batches=16,
                 names_path=None, data=None, dtype=torch.float32, lr=LR):
    """The lecture's initialisation (seed 2147483647) and `n_batches` batches drawn from the training set.

    `data=(Xtr, Ytr)` reuses a training set already built (lesson 10 passes `step.Xtr, step.Ytr`).
    """
    if data is None:
        Xtr, Ytr, vocab_size = load_training_set(names_path, block_size)
    else:
        Xtr, Ytr = data
        vocab_size = int(max(Ytr.max(), Xtr.max())) + 1
    g = torch.Generator().manual_seed(SEED)
    params = init_params(vocab_size, n_embd, n_hidden, block_size, generator=g)
    params = {k: params[k].detach().to(dtype) for k in PARAM_NAMES}
    ix = torch.randint(0, Xtr.shape[0], (n_batches, batch_size), generator=g)
    batches = [(Xtr[i], Ytr[i]) for i in ix]
    return Problem(params, batches, batch_size, n_hidden, n_embd, block_size, vocab_size, lr)


# --- the four steps -----------------------------------------------------------

def forward(P, Xb, Yb):
    """Exercise 4's forward pass: batchnorm in four lines, `F.cross_entropy` for the loss."""
    emb = P["C"][Xb]
    embcat = emb.view(emb.shape[0], -1)
    hprebn = embcat @ P["W1"] + P["b1"]
    bnmean = hprebn.mean(0, keepdim=True)
    bnvar = hprebn.var(0, keepdim=True, unbiased=True)
    bnvar_inv = (bnvar + EPS) ** -0.5
    bnraw = (hprebn - bnmean) * bnvar_inv
    hpreact = P["bngain"] * bnraw + P["bnbias"]
    h = torch.tanh(hpreact)
    logits = h @ P["W2"] + P["b2"]
    loss = F.cross_entropy(logits, Yb)
    return dict(emb=emb, embcat=embcat, hprebn=hprebn, bnvar_inv=bnvar_inv, bnraw=bnraw,
                h=h, logits=logits, loss=loss)


def step_autograd(P, Xb, Yb, lr=LR):
    """Forward, `loss.backward()`, update: the parameters must have requires_grad."""
    loss = forward(P, Xb, Yb)["loss"]
    for p in P.values():
        p.grad = None
    loss.backward()
    for p in P.values():
        p.data += -lr * p.grad


def step_fused(P, Xb, Yb, lr=LR):
    """Forward, the backward pass of lessons 07-09 written by hand, update (the lecture's Exercise 4)."""
    with torch.no_grad():
        t = forward(P, Xb, Yb)
        emb, embcat, bnvar_inv, bnraw, h, logits = (
            t[k] for k in ("emb", "embcat", "bnvar_inv", "bnraw", "h", "logits"))
        C, W1, W2, bngain = P["C"], P["W1"], P["W2"], P["bngain"]
        n = Xb.shape[0]
        # lesson 07: the cross-entropy in one expression
        dlogits = F.softmax(logits, 1)
        dlogits[range(n), Yb] -= 1
        dlogits /= n
        # the second layer and tanh (lessons 04-05)
        dh = dlogits @ W2.T
        dW2 = h.T @ dlogits
        db2 = dlogits.sum(0)
        dhpreact = (1.0 - h**2) * dh
        # lesson 08: batchnorm in one expression
        dbngain = (bnraw * dhpreact).sum(0, keepdim=True)
        dbnbias = dhpreact.sum(0, keepdim=True)
        dhprebn = bngain * bnvar_inv / n * (n * dhpreact - dhpreact.sum(0)
                                            - n / (n - 1) * bnraw * (dhpreact * bnraw).sum(0))
        # the first layer and the embedding (lesson 06)
        dembcat = dhprebn @ W1.T
        dW1 = embcat.T @ dhprebn
        db1 = dhprebn.sum(0)
        demb = dembcat.view(emb.shape)
        dC = torch.zeros_like(C).index_add_(0, Xb.view(-1), demb.view(-1, C.shape[1]))
        grads = dict(C=dC, W1=dW1, b1=db1, W2=dW2, b2=db2, bngain=dbngain, bnbias=dbnbias)
        for k, p in P.items():
            p.data += -lr * grads[k]


def make_buffers(P, batch_size, block_size=3):
    """Preallocated outputs for `step_optimised` (`out=`), so that a step allocates almost nothing."""
    n, (vocab_size, n_embd), n_hidden = batch_size, P["C"].shape, P["W1"].shape[1]
    new = functools.partial(torch.empty, dtype=P["C"].dtype)
    return dict(emb=new(n * block_size, n_embd), hprebn=new(n, n_hidden), h=new(n, n_hidden),
                hh=new(n, n_hidden), logits=new(n, vocab_size), dh=new(n, n_hidden),
                dembcat=new(n, n_embd * block_size), minus_one=torch.full((n, 1), -1.0, dtype=P["C"].dtype))


def step_optimised(P, Xb, Yb, lr=LR, buf=None):
    """The fused step with fewer operations and temporaries; each parameter is updated in place.

    The gradient of a weight is never stored: `W.addmm_(x.T, dy, alpha=-lr)`
    computes `W - lr * (x.T @ dy)` in one call. A parameter is updated only
    after its last use in the backward pass. `buf` (from `make_buffers`) gives
    the outputs to write into; without it PyTorch allocates them.
    """
    C, W1, b1, W2, b2, bngain, bnbias = (P[k] for k in PARAM_NAMES)
    n, block = Xb.shape
    b = buf if buf is not None else {}
    out = b.get  # out("h") is None without buffers: PyTorch then allocates
    idx = Xb.view(-1)
    # forward: every line writes into one buffer, and the next line works on it in place
    embcat = torch.index_select(C, 0, idx, out=out("emb")).view(n, -1)
    hprebn = torch.addmm(b1, embcat, W1, out=out("hprebn"))
    # the variance from the deviations, as in lesson 00's atomic forward pass (var(0) is slow)
    bndiff = hprebn.sub_(hprebn.mean(0, keepdim=True))
    bnvar = torch.mul(bndiff, bndiff, out=out("hh")).sum(0, keepdim=True).mul_(1.0 / (n - 1))
    bnvar_inv = bnvar.add_(EPS).rsqrt_()
    bnraw = bndiff.mul_(bnvar_inv)
    h = torch.addcmul(bnbias, bngain, bnraw, out=out("h")).tanh_()
    logits = torch.addmm(b2, h, W2, out=out("logits"))
    # backward: dlogits without range(n) (lesson 10), then the second layer
    minus_one = b["minus_one"] if buf is not None else torch.full((n, 1), -1.0, dtype=logits.dtype)
    dlogits = torch.softmax(logits, 1).scatter_add_(1, Yb.view(n, 1), minus_one).mul_(1.0 / n)
    dh = torch.mm(dlogits, W2.T, out=out("dh"))
    W2.addmm_(h.T, dlogits, alpha=-lr)
    b2.add_(dlogits.sum(0), alpha=-lr)
    # tanh: dh * (1 - h**2) = dh - dh * h*h, in place
    dhpreact = dh.addcmul_(dh, torch.mul(h, h, out=out("hh")), value=-1.0)
    # batchnorm: the two sums of lesson 08's formula are dbnbias and dbngain
    dbnbias = dhpreact.sum(0, keepdim=True)
    dbngain = (bnraw * dhpreact).sum(0, keepdim=True)
    dhprebn = dhpreact.sub_(dbnbias, alpha=1.0 / n).addcmul_(bnraw, dbngain, value=-1.0 / (n - 1)) \
                      .mul_(bngain * bnvar_inv)
    bngain.sub_(dbngain, alpha=lr)
    bnbias.sub_(dbnbias, alpha=lr)
    # the first layer and the embedding
    dembcat = torch.mm(dhprebn, W1.T, out=out("dembcat"))
    W1.addmm_(embcat.T, dhprebn, alpha=-lr)
    b1.add_(dhprebn.sum(0), alpha=-lr)
    C.index_add_(0, idx, dembcat.view(n * block, -1), alpha=-lr)


def compile_step(threads=None, cpp_wrapper=True):
    """`step_optimised` under `torch.compile` (a fresh compile: dynamo's caches are reset).

    Inductor fuses the element-wise work into a few C++ loops and calls the
    matmuls as they are. `cpp_wrapper=True` writes in C++ the code that calls
    them too (otherwise Python): at this size that code is a good part of the
    time. Inductor writes the thread count into the C++ it generates: `threads`
    (default: `torch.get_num_threads()`) is the number the compiled kernels use.
    The compile itself happens at the first call.
    """
    import torch._dynamo
    import torch._inductor.config as inductor_config
    torch._dynamo.reset()
    inductor_config.cpp.threads = threads or torch.get_num_threads()
    inductor_config.cpp_wrapper = cpp_wrapper
    return torch.compile(step_optimised, dynamic=False, fullgraph=True)


def make_step(variant, problem, buffers=True, compiled=None):
    """`(step, params)`: a step function `step(P, Xb, Yb, lr)` and the parameters it trains (a fresh copy)."""
    P = problem.copy_params(requires_grad=(variant == "autograd"))
    if variant == "autograd":
        return step_autograd, P
    if variant == "fused":
        return step_fused, P
    if variant == "optimised":
        if not buffers:
            return step_optimised, P
        buf = make_buffers(P, problem.batch_size, problem.block_size)
        return functools.partial(step_optimised, buf=buf), P
    if variant == "compiled":
        return (compiled or compile_step()), P
    raise ValueError(f"unknown variant {variant!r}; one of {VARIANTS}")


def same_update(problem, steps, batch=0, rtol=1e-4, atol=1e-6):
    """One step of each variant from the same start on the same batch, against autograd's.

    `steps` maps a name to a step function; returns {name: {param: max |difference|}} and
    whether every parameter is allclose to autograd's.
    """
    Xb, Yb = problem.batches[batch]
    ref = problem.copy_params(requires_grad=True)
    step_autograd(ref, Xb, Yb, problem.lr)
    diffs, ok = {}, True
    for name, step in steps.items():
        P = problem.copy_params(requires_grad=(name == "autograd"))
        step(P, Xb, Yb, problem.lr)
        diffs[name] = {k: (P[k].detach() - ref[k].detach()).abs().max().item() for k in PARAM_NAMES}
        ok &= all(torch.allclose(P[k].detach(), ref[k].detach(), rtol=rtol, atol=atol) for k in PARAM_NAMES)
    return diffs, ok


# --- the stopwatch ------------------------------------------------------------

def make_runner(step, P, batches, lr=LR):
    """`one_step()`: one training step of one variant on its own parameters, on the next batch."""
    cycle = itertools.cycle(batches)

    def one_step():
        Xb, Yb = next(cycle)
        step(P, Xb, Yb, lr)
    return one_step


def time_steps(runners, rounds=20, steps=5, warmup=5, threads=1, every_step=None):
    """Seconds per step, one number per round for each variant: {name: [s, s, ...]}.

    Every variant first runs `warmup` steps. Then, in each round, every variant
    takes its turn, in an order that rotates from round to round, so that all
    of them meet the machine in the same state. A turn is one step that brings
    the variant's tensors back into the cache (not timed), then `steps` steps
    timed one by one: the round's number is their median, so a step that the
    operating system interrupts does not count. `threads` (None: leave torch's
    setting) is restored at the end. Pass a dict as `every_step` to get every
    timed step too: {name: [s, s, ...]}, `rounds * steps` numbers each.
    """
    before = torch.get_num_threads()
    if threads:
        torch.set_num_threads(threads)
    clock = time.perf_counter
    try:
        names = list(runners)
        for name in names:
            for _ in range(warmup):
                runners[name]()
        seconds = {name: [] for name in names}
        times = [0.0] * steps
        for r in range(rounds):
            for name in names[r % len(names):] + names[:r % len(names)]:
                one_step = runners[name]
                one_step()
                for i in range(steps):
                    start = clock()
                    one_step()
                    times[i] = clock() - start
                seconds[name].append(statistics.median(times))
                if every_step is not None:
                    every_step.setdefault(name, []).extend(times)
    finally:
        torch.set_num_threads(before)
    return seconds


def best_of(functions, number=100, repeats=10, threads=1):
    """Seconds per call of each function: `number` calls in a row, `repeats` turns in alternation, the best turn.

    The best is the turn least disturbed by the rest of the machine (as in
    lesson 07); for one small operation that is a fair summary, for a whole
    training step `time_steps` gives the distribution.
    """
    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    best = {name: float("inf") for name in functions}
    try:
        with torch.no_grad():
            for _ in range(repeats):
                for name, f in functions.items():
                    start = time.perf_counter()
                    for _ in range(number):
                        f()
                    best[name] = min(best[name], (time.perf_counter() - start) / number)
    finally:
        torch.set_num_threads(before)
    return best


def summarise(seconds, reference="autograd"):
    """Per variant: median, quartiles and min in µs per step, and the speed-up over `reference`.

    The speed-up `speedup` is the median over the rounds of reference ÷ variant,
    each ratio taken within one round, where both met the machine in the same
    state: on a busy machine it moves much less than the ratio of the medians
    (`speedup_of_medians`, also given, with `speedup_of_mins`).
    """
    table = {}
    for name, s in seconds.items():
        q1, median, q3 = statistics.quantiles(s, n=4, method="inclusive") if len(s) > 1 else (s[0],) * 3
        table[name] = dict(median_us=median * 1e6, q1_us=q1 * 1e6, q3_us=q3 * 1e6, min_us=min(s) * 1e6,
                           rounds=len(s))
    if reference in table:
        ref = seconds[reference]
        for name, row in table.items():
            row["speedup"] = statistics.median(a / b for a, b in zip(ref, seconds[name]))
            row["speedup_of_medians"] = table[reference]["median_us"] / row["median_us"]
            row["speedup_of_mins"] = table[reference]["min_us"] / row["min_us"]
    return table


def slower_than_autograd(table):
    """The manual variants slower than autograd (speed-up below 1); `make bench` fails on any."""
    return [name for name, row in table.items() if name != "autograd" and row.get("speedup", 1.0) < 1.0]


def format_table(table, title=""):
    """The table `make bench` prints: one line per variant."""
    lines = [title] if title else []
    lines.append(f"{'variant':<10} {'median µs':>10} {'q1–q3 µs':>12} {'min µs':>8}   "
                 f"{'autograd ÷ variant':>18} {'(of medians)':>12}")
    nan = float("nan")
    for name, row in table.items():
        spread = f"{row['q1_us']:.0f}–{row['q3_us']:.0f}"
        lines.append(f"{name:<10} {row['median_us']:>10.1f} {spread:>12} {row['min_us']:>8.1f}   "
                     f"{row.get('speedup', nan):>17.2f}× {row.get('speedup_of_medians', nan):>11.2f}×")
    return "\n".join(lines)


# --- where the time goes --------------------------------------------------------

def step_flops(batch_size=32, n_hidden=200, n_embd=10, block_size=3, vocab_size=27):
    """FLOPs of one step: the six matmuls exactly (2·m·k·n each), the element-wise work roughly.

    Forward: embcat @ W1 and h @ W2. Backward: for each of them, one product
    for the input's gradient and one for the weight's (lesson 04), the same
    size as the forward one: the backward pass costs twice the forward.
    Element-wise: about 30 operations per entry of a `[n, n_hidden]` tensor
    (batchnorm, tanh, their gradients, the update of W1 and W2 counts apart),
    10 per entry of a `[n, vocab]` one, 2 per parameter (the update).
    """
    n, d, H, V = batch_size, n_embd * block_size, n_hidden, vocab_size
    layer1, layer2 = 2 * n * d * H, 2 * n * H * V
    matmul = 3 * (layer1 + layer2)
    n_params = V * n_embd + d * H + H + H * V + V + 2 * H
    elementwise = 30 * n * H + 10 * n * V + 2 * n_params
    return dict(forward_matmul=layer1 + layer2, backward_matmul=2 * (layer1 + layer2), matmul=matmul,
                elementwise=elementwise, total=matmul + elementwise)


def matmul_gflops(size=512, repeats=100, threads=1):
    """What this CPU can do: GFLOP/s of a square float32 matmul (best of `repeats`).

    512 is big enough for the matmul to run at full speed and small enough
    (3 ms) for some of the repeats to get through untouched on a busy machine.
    """
    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        g = torch.Generator().manual_seed(0)
        a, b = torch.randn(size, size, generator=g), torch.randn(size, size, generator=g)
        c = torch.empty(size, size)
        torch.mm(a, b, out=c)
        best = float("inf")
        for _ in range(repeats):
            start = time.perf_counter()
            torch.mm(a, b, out=c)
            best = min(best, time.perf_counter() - start)
    finally:
        torch.set_num_threads(before)
    return 2 * size**3 / best / 1e9


def count_ops(step, P, Xb, Yb, lr=LR):
    """How many operations (ATen calls, autograd's backward ones included) one step makes: (total, Counter)."""
    from torch.utils._python_dispatch import TorchDispatchMode

    class Counting(TorchDispatchMode):
        def __init__(self):
            super().__init__()
            self.calls = Counter()

        def __torch_dispatch__(self, func, types, args=(), kwargs=None):
            self.calls[str(func.overloadpacket).removeprefix("aten.")] += 1
            return func(*args, **(kwargs or {}))

    with Counting() as mode:
        step(P, Xb, Yb, lr)
    return sum(mode.calls.values()), mode.calls


def op_seconds(repeats=2000, threads=1):
    """The fixed price of one small operation: seconds per `x.add_(1.0)` on a 1-element tensor."""
    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        x = torch.zeros(1)
        best = float("inf")
        for _ in range(5):
            start = time.perf_counter()
            for _ in range(repeats):
                x.add_(1.0)
            best = min(best, (time.perf_counter() - start) / repeats)
    finally:
        torch.set_num_threads(before)
    return best


def matmuls_seconds(batch_size=32, n_hidden=200, n_embd=10, block_size=3, vocab_size=27, repeats=5, threads=1):
    """The six matmuls of one step alone, at these sizes (best of `repeats`): the step's arithmetic, no overhead."""
    n, d, H, V = batch_size, n_embd * block_size, n_hidden, vocab_size
    g = torch.Generator().manual_seed(0)
    embcat, W1, h, W2, dlogits, dhprebn = (torch.randn(*shape, generator=g) for shape in
                                           ((n, d), (d, H), (n, H), (H, V), (n, V), (n, H)))

    def six():
        embcat @ W1, h @ W2, dlogits @ W2.T, h.T @ dlogits, dhprebn @ W1.T, embcat.T @ dhprebn

    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        six()
        best = float("inf")
        for _ in range(repeats):
            start = time.perf_counter()
            six()
            best = min(best, time.perf_counter() - start)
    finally:
        torch.set_num_threads(before)
    return best


def sweep(sizes, variants=("autograd", "fused", "optimised"), rounds=3, steps=3, warmup=1, threads=1,
          names_path=None, data=None):
    """Each variant at each (batch_size, n_hidden) of `sizes`: {(n, H): dict(flops, matmuls_us, table)}.

    `table` is `summarise`'s, with each row's GFLOP/s added (the step's FLOPs ÷ its median time).
    """
    results = {}
    for n, H in sizes:
        problem = make_problem(n_hidden=H, batch_size=n, n_batches=4, names_path=names_path, data=data)
        runners = {v: make_runner(*make_step(v, problem), problem.batches, problem.lr) for v in variants}
        table = summarise(time_steps(runners, rounds, steps, warmup, threads))
        flops = step_flops(n, H, problem.n_embd, problem.block_size, problem.vocab_size)["total"]
        for row in table.values():
            row["gflops"] = flops / row["median_us"] / 1e3
        mm = matmuls_seconds(n, H, problem.n_embd, problem.block_size, problem.vocab_size, threads=threads)
        results[n, H] = dict(flops=flops, matmuls_us=mm * 1e6, table=table)
    return results


# --- exact beyond cmp: the fused formulas as autograd Functions -------------------

class FusedCrossEntropy(torch.autograd.Function):
    """`F.cross_entropy(logits, Yb)` forward; backward: lesson 07's (softmax - onehot) / n."""

    @staticmethod
    def forward(ctx, logits, Yb):
        ctx.save_for_backward(logits, Yb)
        return F.cross_entropy(logits, Yb)

    @staticmethod
    def backward(ctx, dloss):
        logits, Yb = ctx.saved_tensors
        return dloss * fused.cross_entropy_backward(logits, Yb), None


class FusedBatchNorm(torch.autograd.Function):
    """Batchnorm with Bessel's correction forward; backward: lesson 08's dhprebn in one expression."""

    @staticmethod
    def forward(ctx, hprebn, bngain, bnbias):
        n = hprebn.shape[0]
        bnmean = hprebn.mean(0, keepdim=True)
        bnvar = hprebn.var(0, keepdim=True, unbiased=True)
        bnvar_inv = (bnvar + EPS) ** -0.5
        bnraw = (hprebn - bnmean) * bnvar_inv
        ctx.save_for_backward(bngain, bnraw, bnvar_inv)
        ctx.n = n
        return bngain * bnraw + bnbias

    @staticmethod
    def backward(ctx, dhpreact):
        bngain, bnraw, bnvar_inv = ctx.saved_tensors
        dbngain = (bnraw * dhpreact).sum(0, keepdim=True)
        dbnbias = dhpreact.sum(0, keepdim=True)
        return fused.batchnorm_backward(dhpreact, bngain, bnvar_inv, bnraw), dbngain, dbnbias


def gradcheck_fused(n=6, n_classes=5, n_hidden=4, seed=0):
    """`torch.autograd.gradcheck` of both fused formulas, in float64, on tiny random inputs: {name: bool}."""
    g = torch.Generator().manual_seed(seed)

    def f64(t):
        return t.to(torch.float64).requires_grad_()

    logits = f64(torch.randn(n, n_classes, generator=g))
    Yb = torch.randint(0, n_classes, (n,), generator=g)
    hprebn = f64(torch.randn(n, n_hidden, generator=g))
    bngain = f64(1 + 0.1 * torch.randn(1, n_hidden, generator=g))
    bnbias = f64(0.1 * torch.randn(1, n_hidden, generator=g))
    check = functools.partial(torch.autograd.gradcheck, eps=1e-6, atol=1e-8, rtol=1e-6, raise_exception=False)
    return {"cross_entropy": check(lambda x: FusedCrossEntropy.apply(x, Yb), (logits,)),
            "batchnorm": check(FusedBatchNorm.apply, (hprebn, bngain, bnbias))}


# --- make bench -------------------------------------------------------------------

def machine():
    """What the numbers were measured on."""
    model = platform.processor() or ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return dict(cpu=model, cores=os.cpu_count(), torch=torch.__version__, python=platform.python_version(),
                default_threads=torch.get_num_threads())


def load_average():
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return None


def run_phase(problem, variants, threads, rounds, steps, warmup, factories=None, log=print):
    """One thread setting: (compile,) check the updates, time the variants interleaved; a dict for the JSON."""
    factories = factories or {}
    phase = dict(threads=threads, load_before=load_average())
    compiled = None
    if "compiled" in variants and "compiled" not in factories:
        before = torch.get_num_threads()
        torch.set_num_threads(threads)
        try:
            compiled = compile_step(threads)
            P = problem.copy_params()
            Xb, Yb = problem.batches[0]
            start = time.perf_counter()
            compiled(P, Xb, Yb, problem.lr)  # the first call compiles
            phase["compile_s"] = time.perf_counter() - start
        finally:
            torch.set_num_threads(before)
        log(f"  torch.compile, {threads} thread(s): first call (the compile) {phase['compile_s']:.1f} s")
    steps_and_params = {}
    for v in variants:
        if v in factories:
            steps_and_params[v] = factories[v](problem)
        else:
            steps_and_params[v] = make_step(v, problem, compiled=compiled)
    diffs, ok = same_update(problem, {v: s for v, (s, _) in steps_and_params.items()})
    phase["same_update"] = ok
    phase["max_param_diff"] = {v: max(d.values()) for v, d in diffs.items()}
    runners = {v: make_runner(s, P, problem.batches, problem.lr) for v, (s, P) in steps_and_params.items()}
    every_step = {}
    seconds = time_steps(runners, rounds=rounds, steps=steps, warmup=warmup, threads=threads, every_step=every_step)
    phase["load_after"] = load_average()
    phase["table"] = summarise(seconds)
    # per round: the median of its timed steps (what the table summarises); then every timed step
    phase["samples_us"] = {v: [round(s * 1e6, 2) for s in ss] for v, ss in seconds.items()}
    phase["steps_us"] = {v: [round(s * 1e6, 2) for s in ss] for v, ss in every_step.items()}
    return phase


def exit_status(report):
    """1 when a manual variant is slower than autograd in some phase, or an update differs; else 0."""
    for phase in report["phases"]:
        if not phase["same_update"] or slower_than_autograd(phase["table"]):
            return 1
    return 0


def run(rounds=100, steps=5, warmup=20, threads=None, variants=VARIANTS, n_hidden=200, batch_size=32,
        names_path=None, factories=None, cold_cache=True, log=print):
    """The whole of `make bench`; returns the report (a JSON-able dict)."""
    threads = threads or sorted({1, torch.get_num_threads()})
    problem = make_problem(n_hidden=n_hidden, batch_size=batch_size, names_path=names_path)
    flops = step_flops(batch_size, n_hidden, problem.n_embd, problem.block_size, problem.vocab_size)
    report = dict(machine=machine(), config=dict(rounds=rounds, steps=steps, warmup=warmup, n_hidden=n_hidden,
                                                 batch_size=batch_size, n_embd=problem.n_embd,
                                                 block_size=problem.block_size, lr=problem.lr,
                                                 variants=list(variants),
                                                 compile=dict(cpp_wrapper=True, cold_cache=bool(cold_cache))),
                  flops=flops, phases=[])
    cache = None
    if "compiled" in variants and cold_cache and "TORCHINDUCTOR_CACHE_DIR" not in os.environ:
        cache = tempfile.mkdtemp(prefix="handgrad-inductor-")
        os.environ["TORCHINDUCTOR_CACHE_DIR"] = cache  # a cold compile, as a learner's first one
    peaks = [matmul_gflops(threads=1)]
    try:
        log(f"handgrad bench: n_hidden {n_hidden}, batch {batch_size}; {rounds} rounds × {steps} steps, "
            f"variants interleaved; load average {load_average()}")
        for t in threads:
            phase = run_phase(problem, variants, t, rounds, steps, warmup, factories, log)
            report["phases"].append(phase)
            log("")
            log(format_table(phase["table"], f"{t} thread(s)   load average {phase['load_before']} → "
                                             f"{phase['load_after']}"))
            if not phase["same_update"]:
                log(f"  NOT the same update as autograd: {phase['max_param_diff']}")
    finally:
        if cache:
            shutil.rmtree(cache, ignore_errors=True)
            os.environ.pop("TORCHINDUCTOR_CACHE_DIR", None)
    peaks.append(matmul_gflops(threads=1))
    peak = max(peaks)  # measured before and after the phases: the best is the least disturbed
    report["peak_gflops_1_thread"] = peak
    report["peak_gflops_measures"] = peaks
    ideal_us = flops["total"] / (peak * 1e9) * 1e6
    report["ideal_step_us_1_thread"] = ideal_us
    one = next((p for p in report["phases"] if p["threads"] == 1), None)
    log("")
    log(f"one step: {flops['matmul'] / 1e6:.2f} MFLOP in matmuls + ~{flops['elementwise'] / 1e6:.2f} MFLOP "
        f"element-wise; a 512² matmul runs at {peak:.0f} GFLOP/s on 1 thread, so the FLOP limit of a "
        f"step is {ideal_us:.0f} µs")
    if one:
        for v, row in one["table"].items():
            row["fraction_of_peak"] = ideal_us / row["median_us"]
        fastest = min(one["table"], key=lambda v: one["table"][v]["median_us"])
        row = one["table"][fastest]
        log(f"fastest on 1 thread: {fastest}, {row['median_us']:.0f} µs = {row['median_us'] / ideal_us:.1f}× "
            f"the FLOP limit ({100 * row['fraction_of_peak']:.0f}% of peak)")
    report["gradcheck_float64"] = gradcheck_fused()
    log(f"gradcheck in float64 of the fused formulas: {report['gradcheck_float64']}")
    report["exit_status"] = exit_status(report)
    return report


def main(argv=None, factories=None):
    parser = argparse.ArgumentParser(prog="python -m handgrad.bench", description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=100, help="rounds per phase (each runs every variant)")
    parser.add_argument("--steps", type=int, default=5, help="timed steps per variant per round")
    parser.add_argument("--warmup", type=int, default=20, help="steps per variant before timing")
    parser.add_argument("--threads", type=int, nargs="*", help="thread settings (default: 1 and torch's default)")
    parser.add_argument("--variants", nargs="*", default=list(VARIANTS), choices=VARIANTS)
    parser.add_argument("--no-compile", action="store_true", help="leave out the compiled variant")
    parser.add_argument("--warm-cache", action="store_true",
                        help="use inductor's usual cache (default: a fresh one, so the compile time is a cold one)")
    parser.add_argument("--n-hidden", type=int, default=200)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--names-path", default=None)
    parser.add_argument("--json", default="build/bench.json", help="where to write the figures ('' for nowhere)")
    args = parser.parse_args(argv)
    variants = [v for v in args.variants if not (args.no_compile and v == "compiled")]
    if "autograd" not in variants:
        parser.error("the comparison needs the autograd variant")
    report = run(rounds=args.rounds, steps=args.steps, warmup=args.warmup, threads=args.threads,
                 variants=variants, n_hidden=args.n_hidden, batch_size=args.batch_size,
                 names_path=args.names_path, factories=factories, cold_cache=not args.warm_cache)
    if args.json:
        path = Path(args.json)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(report, indent=1) + "\n", encoding="utf-8")
        print(f"figures written to {path}")
    status = report["exit_status"]
    for phase in report["phases"]:
        slow = slower_than_autograd(phase["table"])
        if slow:
            print(f"FAIL: {', '.join(slow)} slower than autograd with {phase['threads']} thread(s)")
        if not phase["same_update"]:
            print(f"FAIL: an update differs from autograd's with {phase['threads']} thread(s)")
    return status


# --- lesson 10: the fused step, one line at a time ------------------------------

FUSED_LINES = """\
emb = C[Xb]
embcat = emb.view(n, -1)
hprebn = embcat @ W1 + b1
bnmean = hprebn.mean(0, keepdim=True)
bnvar = hprebn.var(0, keepdim=True)
bnvar_inv = (bnvar + 1e-5)**-0.5
bnraw = (hprebn - bnmean) * bnvar_inv
hpreact = bngain * bnraw + bnbias
h = torch.tanh(hpreact)
logits = h @ W2 + b2
loss = F.cross_entropy(logits, Yb)
dlogits = F.softmax(logits, 1)
dlogits[range(n), Yb] -= 1
dlogits /= n
dh = dlogits @ W2.T
dW2 = h.T @ dlogits
db2 = dlogits.sum(0)
dhpreact = (1.0 - h**2) * dh
dbngain = (bnraw * dhpreact).sum(0, keepdim=True)
dbnbias = dhpreact.sum(0, keepdim=True)
dhprebn = bngain*bnvar_inv/n * (n*dhpreact - dhpreact.sum(0) - n/(n-1)*bnraw*(dhpreact*bnraw).sum(0))
dembcat = dhprebn @ W1.T
dW1 = embcat.T @ dhprebn
db1 = dhprebn.sum(0)
dC = torch.zeros_like(C).index_add_(0, Xb.view(-1), dembcat.view(-1, 10))
C += -lr * dC
W1 += -lr * dW1
b1 += -lr * db1
W2 += -lr * dW2
b2 += -lr * db2
bngain += -lr * dbngain
bnbias += -lr * dbnbias""".splitlines()
FUSED_PARTS = {"forward": 11, "backward": 14, "update": 7}  # how many of FUSED_LINES each part has, in order


def short_label(line, width=40):
    """`line` cut to at most `width` characters at a space (never mid-word), with " …" when cut."""
    if len(line) <= width:
        return line
    cut = line.rfind(" ", 0, width - 1)
    return line[:cut if cut > 0 else width - 2].rstrip() + " …"


def time_lines(problem, steps=300, skip=50, lines=FUSED_LINES, width=40):
    """The fused step (`FUSED_LINES`, the lecture's forward pass plus `step_fused`'s backward and update)
    run `steps` times one line at a time, each line timed on its own: {label: median µs}, in code order.

    The first `skip` steps are a warm-up and are left out of the median; labels are the lines cut by
    `short_label(line, width)`. Runs under `torch.no_grad()` on a copy of `problem`'s parameters.
    """
    code = [compile(line, "<fused>", "exec") for line in lines]
    names = dict(torch=torch, F=F, n=problem.batch_size, lr=problem.lr, **problem.copy_params())
    seconds = [[] for _ in lines]
    with torch.no_grad():
        for k in range(steps):
            names["Xb"], names["Yb"] = problem.batches[k % len(problem.batches)]
            for times, line in zip(seconds, code):
                start = time.perf_counter()
                exec(line, names)
                times.append(time.perf_counter() - start)
    return {short_label(line, width): statistics.median(times[skip:]) * 1e6 for line, times in zip(lines, seconds)}


if __name__ == "__main__":
    sys.exit(main())
