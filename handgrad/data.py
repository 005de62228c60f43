"""The names data set and the lecture's train/dev/test split.

Everything here mirrors "makemore part 4" line by line, so that a learner who
points `names_path` at the lecture's own names.txt gets the lecture's numbers
(32033 words; 182625 / 22655 / 22866 examples).
"""
import random
from pathlib import Path

import torch

REPO_DIR = Path(__file__).resolve().parent.parent
DEFAULT_NAMES = REPO_DIR / "data" / "names.txt"


def load_words(names_path=None):
    """Read one name per line; `None` means the course's own data/names.txt."""
    path = Path(names_path) if names_path else DEFAULT_NAMES
    return path.read_text(encoding="utf-8").splitlines()


def build_vocab(words):
    """Characters a-z get 1..26, the special '.' (start/end of a name) gets 0."""
    chars = sorted(set("".join(words)))
    stoi = {s: i + 1 for i, s in enumerate(chars)}
    stoi["."] = 0
    itos = {i: s for s, i in stoi.items()}
    return stoi, itos


def build_dataset(words, stoi, block_size=3):
    """Every name gives one example per character: the `block_size` previous ones → the next."""
    X, Y = [], []
    for w in words:
        context = [0] * block_size
        for ch in w + ".":
            ix = stoi[ch]
            X.append(context)
            Y.append(ix)
            context = context[1:] + [ix]
    return torch.tensor(X), torch.tensor(Y)


def split_dataset(words, stoi, block_size=3, seed=42):
    """The lecture's split: shuffle with random.seed(42), then 80% / 10% / 10%.

    Works on a copy, so the caller's list keeps its order.  Shuffles with its
    own `random.Random(seed)`, which draws exactly what the lecture's
    `random.seed(seed); random.shuffle(words)` draws, without reseeding the
    global `random` a learner's notebook may be using.
    """
    words = list(words)
    random.Random(seed).shuffle(words)
    n1 = int(0.8 * len(words))
    n2 = int(0.9 * len(words))
    return (
        build_dataset(words[:n1], stoi, block_size),
        build_dataset(words[n1:n2], stoi, block_size),
        build_dataset(words[n2:], stoi, block_size),
    )
