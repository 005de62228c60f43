"""`check_shape`: did the learner guess the shape of a gradient before computing it?"""
from .i18n import say, tr


def check_shape(name, guess, t, of=None):
    """Print whether `guess` (a tuple such as `(3, 1)`) is the shape of `t`, the tensor `name` is the gradient of.

    `check_shape('db', shape_db, b)` prints "db: (3, 1) right!", a reminder
    that dX has the shape of X, or "still to do" while `shape_db` is `...`.
    `of` names the tensor when it is not `name` without its `d`
    (`check_shape('dcounts1', guess, counts, of='counts')`).
    """
    of = of or (name[1:] if name.startswith("d") and len(name) > 1 else name)
    if guess is ...:
        print(say("shape_todo", name=name))
        return
    try:
        right = tuple(guess) == tuple(t.shape)
    except TypeError:
        right = False
    if right:
        print(say("shape_right", name=name, shape=tuple(guess)))
    else:
        print(say("shape_wrong", name=name, guess=guess, of=of))
        if not isinstance(guess, (tuple, list)):  # 1, 32, or a tensor: not a shape at all
            print(say("shape_not_tuple", guess=guess))
        elif _same_count_other_dims(guess, t.shape):  # (1,) for a scalar, (27,) for [1, 27]
            print(say("shape_dims", guess=guess, k=_dimensions(len(tuple(guess))), of=of, m=_dimensions(t.dim())))


def _dimensions(k):
    """'no dimensions', 'one dimension', '2 dimensions', in the current language."""
    if k == 0:
        return tr("zero dimensioni", "no dimensions")
    return tr("una dimensione", "one dimension") if k == 1 else f"{k} " + tr("dimensioni", "dimensions")


def _same_count_other_dims(guess, shape):
    """True when `guess` has as many elements as `shape` but another number of dimensions."""
    try:
        count = 1
        for size in guess:
            count *= int(size)
        return count == shape.numel() and len(tuple(guess)) != len(shape)
    except (TypeError, ValueError):
        return False
