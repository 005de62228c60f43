"""The lecture's model and one forward/backward step, as a reference for every lesson.

Lesson 00 writes this forward pass cell by cell; the later lessons call
`reference_step()` to get the very same tensors, with autograd's gradients in
`.grad`, without repeating thirty lines of setup.
"""
from types import SimpleNamespace

import torch

from .data import build_vocab, load_words, split_dataset

SEED = 2147483647

# The intermediate tensors whose gradients the course computes by hand, in the
# lecture's order (from the loss back to the embedding).
INTERMEDIATES = [
    "logprobs", "probs", "counts", "counts_sum", "counts_sum_inv", "norm_logits",
    "logit_maxes", "logits", "h", "hpreact", "bnraw", "bnvar_inv", "bnvar",
    "bndiff2", "bndiff", "hprebn", "bnmeani", "embcat", "emb",
]

# Every name `reference_step().tensors` holds, in forward order: the batch, the
# parameters, the intermediates, the loss, then the batch size `n`.  Written out
# (not computed) so that the lesson generator can check that `cmp('X', dX, X)`
# names a real tensor without importing torch or running the model.
LECTURE_NAMES = (
    "Xb", "Yb", "C", "W1", "b1", "W2", "b2", "bngain", "bnbias",
    "emb", "embcat", "hprebn", "bnmeani", "bndiff", "bndiff2", "bnvar",
    "bnvar_inv", "bnraw", "hpreact", "h", "logits", "logit_maxes", "norm_logits",
    "counts", "counts_sum", "counts_sum_inv", "probs", "logprobs", "loss", "n",
)


def init_params(vocab_size, n_embd=10, n_hidden=64, block_size=3, generator=None):
    """The lecture's (deliberately non-standard) initialisation.

    Small random biases and a random batchnorm gain/bias, instead of zeros and
    ones, so that a wrong backward pass cannot hide behind a zero.  Unlike the
    lecture, bngain and bnbias also draw from `generator`, so every run agrees.
    """
    g = generator if generator is not None else torch.Generator().manual_seed(SEED)
    C = torch.randn((vocab_size, n_embd), generator=g)
    W1 = torch.randn((n_embd * block_size, n_hidden), generator=g) * (5 / 3) / ((n_embd * block_size) ** 0.5)
    b1 = torch.randn(n_hidden, generator=g) * 0.1
    W2 = torch.randn((n_hidden, vocab_size), generator=g) * 0.1
    b2 = torch.randn(vocab_size, generator=g) * 0.1
    bngain = torch.randn((1, n_hidden), generator=g) * 0.1 + 1.0
    bnbias = torch.randn((1, n_hidden), generator=g) * 0.1
    parameters = [C, W1, b1, W2, b2, bngain, bnbias]
    for p in parameters:
        p.requires_grad = True
    return dict(C=C, W1=W1, b1=b1, W2=W2, b2=b2, bngain=bngain, bnbias=bnbias)


def forward(params, Xb, Yb):
    """The forward pass cut into the lecture's atomic steps; returns every tensor by name.

    The dict is written out rather than taken from `locals()`, so a helper
    variable added here can never leak into a notebook's globals; its keys are
    `LECTURE_NAMES` without `n` (an int, which `reference_step` adds).
    """
    C, W1, b1, W2, b2 = (params[k] for k in ("C", "W1", "b1", "W2", "b2"))
    bngain, bnbias = params["bngain"], params["bnbias"]
    n = Xb.shape[0]
    emb = C[Xb]
    embcat = emb.view(emb.shape[0], -1)
    hprebn = embcat @ W1 + b1
    bnmeani = 1 / n * hprebn.sum(0, keepdim=True)
    bndiff = hprebn - bnmeani
    bndiff2 = bndiff**2
    bnvar = 1 / (n - 1) * (bndiff2).sum(0, keepdim=True)  # Bessel's correction: n-1
    bnvar_inv = (bnvar + 1e-5) ** -0.5
    bnraw = bndiff * bnvar_inv
    hpreact = bngain * bnraw + bnbias
    h = torch.tanh(hpreact)
    logits = h @ W2 + b2
    logit_maxes = logits.max(1, keepdim=True).values
    norm_logits = logits - logit_maxes
    counts = norm_logits.exp()
    counts_sum = counts.sum(1, keepdims=True)
    counts_sum_inv = counts_sum**-1
    probs = counts * counts_sum_inv
    logprobs = probs.log()
    loss = -logprobs[range(n), Yb].mean()
    return dict(
        Xb=Xb, Yb=Yb, C=C, W1=W1, b1=b1, W2=W2, b2=b2, bngain=bngain, bnbias=bnbias,
        emb=emb, embcat=embcat, hprebn=hprebn, bnmeani=bnmeani, bndiff=bndiff,
        bndiff2=bndiff2, bnvar=bnvar, bnvar_inv=bnvar_inv, bnraw=bnraw,
        hpreact=hpreact, h=h, logits=logits, logit_maxes=logit_maxes,
        norm_logits=norm_logits, counts=counts, counts_sum=counts_sum,
        counts_sum_inv=counts_sum_inv, probs=probs, logprobs=logprobs, loss=loss,
    )


def reference_step(names_path=None, block_size=3, batch_size=32, n_embd=10, n_hidden=64):
    """Data, model, one batch, forward pass, `loss.backward()`: the lecture's starting point.

    Returns a namespace whose `tensors` dict holds every name of the lecture
    (C, W1, …, logprobs, loss, Xb, Yb) plus `n`; every intermediate keeps its
    `.grad`, so `cmp()` can compare a hand-made gradient with autograd's.
    """
    words = load_words(names_path)
    stoi, itos = build_vocab(words)
    (Xtr, Ytr), (Xdev, Ydev), (Xte, Yte) = split_dataset(words, stoi, block_size)
    g = torch.Generator().manual_seed(SEED)
    params = init_params(len(stoi), n_embd, n_hidden, block_size, generator=g)
    ix = torch.randint(0, Xtr.shape[0], (batch_size,), generator=g)
    Xb, Yb = Xtr[ix], Ytr[ix]
    tensors = forward(params, Xb, Yb)
    for name in INTERMEDIATES:
        tensors[name].retain_grad()
    tensors["loss"].retain_grad()
    tensors["loss"].backward()
    tensors.update(params, n=batch_size)
    return SimpleNamespace(
        tensors=tensors, words=words, stoi=stoi, itos=itos,
        Xtr=Xtr, Ytr=Ytr, Xdev=Xdev, Ydev=Ydev, Xte=Xte, Yte=Yte,
    )
