"""The grader's side of a run: start a worker, wait for it within the limits, read back what it left.

Everything read back from a run is data: the worker's events (JSON lines) and
the `torch.save` files of the grader's cells, loaded with `weights_only=True`,
size-checked, never followed through a symlink.  Points come only from
comparing those raw values, here, with the reference the grader computed
itself from the course's solution (`reference`).
"""
import base64
import io
import json
import os
import shutil
import subprocess
import sys
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import psutil
import torch

from ..check import Gradient, Verdict, check, note
from . import course
from .kernel import decode

WORKER = Path(__file__).with_name("worker.py")
MAX_FILE = 64 * 2 ** 20
RESTORABLE = ("tensor", "py", "size", "ellipsis", "numpy", "import")
_running = set()  # worker processes alive, so that an interrupted grading can end them
_stopping = []  # set by stop_all: no new worker starts


@dataclass
class Limits:
    cell_timeout: float = 60  # one cell, in seconds (the kernel is interrupted, then killed)
    timeout: float = 300  # one notebook, every restart included
    memory: int = 4 * 2 ** 30  # address space of the kernel (RLIMIT_AS), bytes; torch alone reserves ~1.5 GiB


def worker_env():
    env = {k: v for k, v in os.environ.items() if k not in ("HANDGRAD_STRICT", "NBGRADER_EXECUTION")}
    env.update(OMP_NUM_THREADS="1", MKL_NUM_THREADS="1", MPLBACKEND="agg", PYDEVD_DISABLE_FILE_VALIDATION="1")
    env["PATH"] = str(Path(sys.executable).parent) + os.pathsep + env.get("PATH", "")
    return env


def _kill_tree(process):
    try:
        family = [process] + process.children(recursive=True)
    except psutil.Error:
        family = [process]
    for member in family:
        try:
            member.kill()
        except psutil.Error:
            pass


def stop_all():
    """End every worker still running, and start no new one (a grading interrupted with Ctrl-C, or failed)."""
    _stopping.append(True)
    for proc in list(_running):
        try:
            _kill_tree(psutil.Process(proc.pid))
        except psutil.Error:
            pass


def run_worker(job, folder, limits, attempts=3):
    """Run one job in a worker process; return its events.  `folder` gets worker/ and kernel/.

    A kernel that dies before it even answers (a port taken by another kernel
    started at the same moment, on a busy machine) is started again: that is
    the grader's bad luck, not the learner's.
    """
    for attempt in range(attempts):
        if attempt:
            shutil.rmtree(folder, ignore_errors=True)  # start again from an empty folder
        events = _run_worker_once(job, folder, limits)
        if not _died_at_start(events):
            break
    return events


def _died_at_start(events):
    return any(e.get("event") == "died" and e.get("cell") is None and "kernel_info" in str(e.get("error", ""))
               for e in events) and not any(e.get("event") == "end" for e in events)


def _run_worker_once(job, folder, limits):
    folder = Path(folder).resolve()
    worker_dir, kernel_dir = folder / "worker", folder / "kernel"
    worker_dir.mkdir(parents=True, exist_ok=True)
    job = dict(job, worker_dir=str(worker_dir), kernel_dir=str(kernel_dir), cell_timeout=limits.cell_timeout,
               timeout=limits.timeout, memory=limits.memory)
    with open(worker_dir / "worker.log", "wb") as log:
        if _stopping:
            return [{"event": "died", "reason": "stopped", "cell": None}]
        proc = subprocess.Popen([sys.executable, str(WORKER)], stdin=subprocess.PIPE, stdout=log,
                                stderr=subprocess.STDOUT, cwd=worker_dir, env=worker_env())
        _running.add(proc)
        try:
            try:
                proc.stdin.write(json.dumps(job).encode())
                proc.stdin.close()
            except BrokenPipeError:
                pass
            try:
                proc.wait(timeout=limits.timeout + 30)
                killed = False
            except subprocess.TimeoutExpired:
                _kill_tree(psutil.Process(proc.pid))
                proc.wait()
                killed = True
        finally:
            _running.discard(proc)
            if proc.poll() is None:
                _kill_tree(psutil.Process(proc.pid))
                proc.wait()
    events = read_events(worker_dir / "events.jsonl")
    if killed:
        events.append({"event": "died", "reason": "time-limit", "cell": None})
    return events


def failure(events):
    """Why a run could not grade at all (the course's own cells failed, the kernel never started), or ''."""
    if any(e.get("event") == "finished" for e in events):
        return ""
    if any(e.get("event") == "gave-up" for e in events) or not any(
            e.get("event") == "end" and e.get("role") in ("exercise", "capture") for e in events):
        died = next((e for e in reversed(events) if e.get("event") == "died"), {})
        if died.get("reason") != "time-limit":
            return f"the notebook could not run: {died.get('error') or died.get('reason') or 'no record'}"[:300]
    return ""


def read_events(path):
    events = []
    try:
        with open(path, encoding="utf-8", errors="replace") as source:
            for line in source.read(MAX_FILE).splitlines():
                try:
                    event = json.loads(line)
                except ValueError:
                    continue
                if isinstance(event, dict):
                    events.append(event)
    except OSError:
        pass
    return events


def load(path):
    """A file a run left, as plain data, or None (missing, a symlink, too big, not what the grader's cells write)."""
    path = Path(path)
    try:
        if path.is_symlink() or not path.is_file() or path.stat().st_size > MAX_FILE:
            return None
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            data = torch.load(path, weights_only=True, map_location="cpu")
    except Exception:
        return None
    return data if isinstance(data, dict) else None


# --- the reference: the course's solution, run by the grader -------------------------

@dataclass
class Reference:
    stages: dict = field(default_factory=dict)  # exercise index -> {"globals": {name: data}, "rng": tensor}
    grads: dict = field(default_factory=dict)  # check grade id -> {expression: data of autograd's gradient}
    answers: dict = field(default_factory=dict)  # exercise index -> {expression: data}
    error: str = ""


def reference(lesson, folder, limits):
    """Run the course's solution of `lesson` with the grader's cells; check that it passes its own checks."""
    events = run_worker({"notebook": course.run_notebook(lesson), "exercises": len(lesson.exercises)}, folder, limits)
    files = Path(folder, "worker", "files")
    ref = Reference()
    failed = [e for e in events if e.get("event") == "end" and e.get("error")]
    if failed or not any(e.get("event") == "finished" for e in events):
        first = failed[0] if failed else next((e for e in events if e.get("event") in ("died", "gave-up")), {})
        ref.error = f"the course's solution did not run cleanly: {json.dumps(first)[:300]}"
        return ref
    for k, exercise in enumerate(lesson.exercises):
        ref.stages[k] = load(files / f"stage_{k}.pt")
        ref.answers[k] = load(files / f"answer_{k}.pt")
        for check_cell in exercise.checks:
            if check_cell.calls:
                ref.grads[check_cell.grade_id] = load(files / f"grads_{check_cell.grade_id}.pt")
    missing = [k for k, v in {**ref.stages, **ref.answers}.items() if v is None] + \
              [g for g, v in ref.grads.items() if v is None]
    if missing:
        ref.error = f"the solution run left no data for {missing}"
        return ref
    for k, exercise in enumerate(lesson.exercises):
        for check_cell, earned, results in compare(exercise, ref, ref.answers[k]):
            if check_cell.calls and earned != check_cell.points:
                ref.error = f"the course's solution does not pass {check_cell.grade_id}"
                return ref
    return ref


def reset_data(lesson, ref, k, overwritten=()):
    """What the reset before exercise k sends: every earlier exercise's names (and `overwritten` course names)
    as the solution run had them, this exercise's names as they were before it; the random state too."""
    stage = ref.stages[k]["globals"]
    own = [n for e in lesson.exercises[:k + 1] for n in e.names]
    data = {"set": {}, "delete": [], "rng": ref.stages[k]["rng"]}
    for name in dict.fromkeys(own + sorted(overwritten)):
        found = stage.get(name)
        if found is None:
            if name in own:
                data["delete"].append(name)
        elif found.get("kind") in RESTORABLE:
            data["set"][name] = found
    return data


def encode_blob(data):
    buffer = io.BytesIO()
    torch.save(data, buffer)
    return base64.b64encode(buffer.getvalue()).decode()


# --- comparing, in this process ---------------------------------------------------

def _identifier(text):
    return text if isinstance(text, str) and text.isidentifier() else None


def answer_value(found, dexpr):
    """The learner's value as `check` takes it; an undefined name or a failing expression is still to do."""
    if not isinstance(found, dict) or found.get("kind") in (None, "undefined", "error"):
        return Ellipsis
    value = decode(found)
    if isinstance(value, Gradient):
        value.dname = dexpr
    return value


def _autograd(found):
    """A tensor standing in for `t`, whose `.grad` is the reference gradient."""
    grad = decode(found) if isinstance(found, dict) and found.get("kind") == "tensor" else None
    if not isinstance(grad, torch.Tensor) or not grad.is_floating_point():
        return None
    t = torch.zeros_like(grad).requires_grad_()
    t.grad = grad
    return t


def compare(exercise, ref, captured):
    """[(check cell, points earned, [(call, verdict)])] for one exercise, from the values it left (or None)."""
    found = []
    for check_cell in exercise.checks:
        results = []
        for call in check_cell.calls:
            t = _autograd((ref.grads.get(check_cell.grade_id) or {}).get(call.texpr))
            dt = answer_value((captured or {}).get(call.dexpr), call.dexpr)
            try:
                if t is None:
                    raise ValueError(f"no reference gradient for {call.texpr}")
                verdict = check(call.name, dt, t, dname=_identifier(call.dexpr), tname=_identifier(call.texpr))
            except Exception as error:
                verdict = Verdict("wrong", notes=[note("broken", error=str(error))])
            verdict.carry = None
            results.append((call, verdict))
        passed = bool(results) and all(v.status == "done" for _, v in results)
        found.append((check_cell, check_cell.points if passed else 0, results))
    return found
