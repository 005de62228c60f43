"""handgrad: backpropagate through the makemore MLP by hand, checking every step with `cmp`."""
from .check import cmp, strict_mode
from .data import build_dataset, build_vocab, load_words, split_dataset
from .i18n import get_language, num, set_language, tr, yes_no
from .model import forward, init_params, reference_step

__all__ = [
    "cmp", "strict_mode", "set_language", "get_language", "tr", "num", "yes_no",
    "load_words", "build_vocab", "build_dataset", "split_dataset",
    "init_params", "forward", "reference_step",
]
