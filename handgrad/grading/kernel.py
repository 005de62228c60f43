"""The grader's side inside a kernel: values in and out of a notebook run, as plain data.

The grader's cells call these functions (see course.run_notebook):

    snapshot(path, ns)   every global of the course's solution run before an exercise
    grads(path, getters) autograd's gradients after a check cell of the solution run
    capture(path, getters) the learner's (or the solution's) answers after an exercise
    reset(path, ns)      before a learner's exercise: earlier answers set to the solution's

Values travel as `torch.save` files of plain data (tensors, numbers, strings,
lists, dicts), which the grader reads back with `torch.load(weights_only=True)`:
nothing the learner's code leaves behind is ever unpickled as an object.
`decode` is shared by both sides.
"""
import builtins
import gc
import importlib
import os
import sys
import warnings

import torch

MAX_NUMEL = 5_000_000  # a bigger answer is described (shape, dtype), not saved
OUTPUT_LIMIT = 1 << 20  # characters an exercise may print: an endless print loop must not fill the grader's memory
MAX_ITEMS = 10_000
SKIP = {"In", "Out", "exit", "quit", "get_ipython"}
_guarded = {}  # id(owner) -> (owner, its attributes when the first reset ran)


# --- values as data ---------------------------------------------------------------

def _plain(value, depth=0):
    """Numbers, strings, None and nested lists/tuples of them, or raise TypeError."""
    if value is None or isinstance(value, (bool, int, float, str)):
        if isinstance(value, str) and len(value) > MAX_ITEMS:
            raise TypeError("string too long")
        return value
    if isinstance(value, (list, tuple)) and depth < 4 and len(value) <= MAX_ITEMS:
        items = [_plain(v, depth + 1) for v in value]
        return items if isinstance(value, list) else tuple(items)
    raise TypeError(type(value).__name__)


def _tensor(value):
    plain = torch._C.TensorBase.as_subclass(value, torch.Tensor).detach()
    if plain.layout != torch.strided:
        plain = plain.to_dense()
    if plain.numel() > MAX_NUMEL:
        return None
    return plain.cpu().clone().contiguous()


def _resolve(module, qualname):
    value = importlib.import_module(module)
    for part in qualname.split("."):
        value = getattr(value, part)
    return value


def encode(value, with_grad=False):
    """A value as plain data: {"kind": ..., ...}."""
    if value is Ellipsis:
        return {"kind": "ellipsis"}
    if isinstance(value, torch.Tensor):
        tensor = _tensor(value)
        if tensor is None:
            return {"kind": "big", "shape": list(value.shape), "dtype": str(value.dtype)}
        found = {"kind": "tensor", "value": tensor, "requires_grad": bool(value.requires_grad)}
        if type(value).__name__ == "Gradient" and type(value).__module__ == "handgrad.check":
            found["stand_in"] = value.replaced if isinstance(value.replaced, str) else None
        if with_grad:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                grad = value.grad
            if isinstance(grad, torch.Tensor):
                found["grad"] = _tensor(grad)
        return found
    if isinstance(value, torch.Size):
        return {"kind": "size", "value": list(value)}
    module = type(value).__module__
    if module.startswith("numpy"):
        import numpy
        try:
            array = numpy.array(value, copy=True)
            return {"kind": "numpy", "type": type(value).__name__, "scalar": array.ndim == 0 and not isinstance(
                value, numpy.ndarray), "value": torch.from_numpy(array) if array.ndim else torch.tensor(array.item())}
        except Exception:
            pass
    try:
        return {"kind": "py", "value": _plain(value)}
    except TypeError:
        pass
    if isinstance(value, type(sys)):
        return {"kind": "import", "module": value.__name__, "qualname": ""}
    qualname, owner = getattr(value, "__qualname__", None), getattr(value, "__module__", None)
    if isinstance(qualname, str) and isinstance(owner, str) and "<" not in qualname and owner != "__main__":
        try:
            if _resolve(owner, qualname) is value:
                return {"kind": "import", "module": owner, "qualname": qualname}
        except Exception:
            pass
    return {"kind": "other", "type": type(value).__name__, "module": module}


class Opaque:
    """Stands for an answer that was neither a tensor nor plain data: only its type's name is known."""


def decode(found, in_kernel=False):
    """The value back from `encode`'s data; an `Opaque` stand-in (or None in a kernel) when it cannot come back."""
    kind = found.get("kind")
    if kind == "ellipsis":
        return Ellipsis
    if kind == "tensor":
        value = found["value"].clone()
        if found.get("requires_grad") and value.is_floating_point():
            value.requires_grad_()
        if isinstance(found.get("grad"), torch.Tensor) and value.requires_grad:
            value.grad = found["grad"].clone()
        if found.get("stand_in") and not in_kernel:
            from ..check import Gradient
            value = value.as_subclass(Gradient)
            value.replaced = found["stand_in"]
        return value
    if kind == "size":
        return torch.Size(found["value"])
    if kind == "py":
        return found["value"]
    if kind == "numpy":
        value = found["value"].numpy()
        return value[()] if found.get("scalar") else value
    if kind == "import" and in_kernel:
        return _resolve(found["module"], found["qualname"]) if found["qualname"] else \
            importlib.import_module(found["module"])
    if kind == "big" and not in_kernel:
        return torch.empty(found["shape"], dtype=getattr(torch, found["dtype"].replace("torch.", ""), None),
                           device="meta")
    if in_kernel:
        return None
    stand_in = type(str(found.get("type", "object")), (Opaque,), {"__module__": str(found.get("module", ""))})
    return stand_in()


# --- the calls the grader's cells make ------------------------------------------

def _save(data, path):
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    torch.save(data, path + ".part")
    os.replace(path + ".part", path)


def _owners():
    import torch.nn.functional
    owners = [builtins, torch, torch.Tensor, torch.nn.functional]
    owners += [m for name, m in list(sys.modules.items())
               if (name == "handgrad" or name.startswith("handgrad.")) and not name.startswith("handgrad.grading")]
    return owners


def guard():
    """The first time: remember the attributes of builtins, torch, torch.Tensor, F and handgrad; then put them back.

    A learner's `torch.allclose = ...` or `torch.Tensor.__eq__ = ...` is undone
    before the next exercise, so that it does not change how that one runs.
    """
    if not _guarded:
        for owner in _owners():
            _guarded[id(owner)] = (owner, dict(vars(owner)))
        return
    for owner, saved in _guarded.values():
        current = vars(owner)
        for name, value in saved.items():
            if current.get(name, _guarded) is not value:
                try:
                    setattr(owner, name, value)
                except Exception:
                    pass


def snapshot(path, ns):
    """Every global of the solution run that can be put back, and the random state (reference run only)."""
    found = {}
    for name, value in list(ns.items()):
        if name.startswith("_") or name in SKIP:
            continue
        try:
            found[name] = encode(value, with_grad=True)
        except Exception:
            found[name] = {"kind": "other", "type": type(value).__name__, "module": ""}
    _save({"globals": found, "rng": torch.get_rng_state()}, path)


def _evaluate(getters, what):
    found = {}
    for key, get in getters.items():
        try:
            value = what(get())
        except NameError:
            found[key] = {"kind": "undefined"}
            continue
        except Exception as error:
            found[key] = {"kind": "error", "error": type(error).__name__}
            continue
        try:
            found[key] = encode(value)
        except Exception as error:
            found[key] = {"kind": "error", "error": type(error).__name__}
    return found


def capture(path, getters):
    """The values of an exercise's names, right after its cell ran (before the check cell rebinds them)."""
    guard()
    _save(_evaluate(getters, lambda v: v), path)


def _grad(tensor):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return tensor.grad


def grads(path, getters):
    """Autograd's gradient of each tensor a check cell compares with (reference run only)."""
    _save(_evaluate(getters, _grad), path)


class _Limited:
    """sys.stdout or sys.stderr, passing on at most OUTPUT_LIMIT characters until the next reset."""

    def __init__(self, stream):
        self._stream = stream
        self.left = OUTPUT_LIMIT

    def write(self, text):
        if self.left <= 0:
            return len(text)
        if len(text) > self.left:
            text = text[:self.left] + "\n[…]\n"
        self.left -= len(text)
        return self._stream.write(text)

    def __getattr__(self, name):
        return getattr(self._stream, name)


def _limit_output():
    for name in ("stdout", "stderr"):
        stream = getattr(sys, name)
        if isinstance(stream, _Limited):
            stream.left = OUTPUT_LIMIT
        elif stream is not None:
            setattr(sys, name, _Limited(stream))


def reset(path, ns):
    """Before an exercise: undo monkeypatches, put back the values the grader sent, remove the file at once."""
    guard()
    _limit_output()
    try:
        data = torch.load(path, weights_only=True)
    finally:
        try:
            os.remove(path)
        except OSError:
            pass
    for name in data.get("delete", []):
        ns.pop(name, None)
    for name, found in data.get("set", {}).items():
        try:
            value = decode(found, in_kernel=True)
        except Exception:
            value = None
        if value is not None or found.get("kind") == "py":
            ns[name] = value
    if isinstance(data.get("rng"), torch.Tensor):
        torch.set_rng_state(data["rng"])
    gc.collect()
