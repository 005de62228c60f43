"""Run one notebook for the grader: `python worker.py < job.json` (started by handgrad.grading.run).

A standalone script: it imports neither torch nor handgrad, so it starts in
well under a second.  It runs the notebook with papermill in a kernel of its
own, under the job's limits, and writes what happened, cell by cell, to
`events.jsonl` in its folder (flushed line by line, so a worker killed from
outside still leaves a readable record).

- memory: RLIMIT_AS, set here and inherited by the kernel;
- a cell that runs too long is interrupted (nbclient's `interrupt_on_timeout`);
  one that ignores the interrupt is killed with its kernel after a grace period;
- a kernel that dies (a crash, `os._exit`, the memory left full after a
  `MemoryError`, a kill) is started again, and the run goes on from the next
  exercise, the learner's earlier cells replaced by the course's stubs: the
  grader's reset cells give the later exercises what they need;
- the reset data for an exercise is written into the kernel's folder only
  when that reset cell starts, and the kernel's own cell deletes it at once.
"""
import sys

sys.modules.setdefault("rfc3987_syntax", None)  # jsonschema's optional IRI check builds a grammar for ~1 s of CPU

import base64  # noqa: E402
import copy  # noqa: E402
import ctypes  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import resource  # noqa: E402
import signal  # noqa: E402
import threading  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import nbformat  # noqa: E402
import papermill  # noqa: E402
import psutil  # noqa: E402

ROLE = "handgrad_grade"
GRACE = 3  # seconds past the cell timeout before a kernel that ignores the interrupt is killed
COURSE_TIMEOUT = 120  # the course's own cells (imports, data, plots) get at least this, on a busy machine too
MEMORY_SHARE = 0.85  # a kernel whose address space is past this share of the limit after an exercise is restarted


class Stop(Exception):
    """End this attempt: start a fresh kernel from the next exercise."""

    def __init__(self, reason, ex):
        super().__init__(reason)
        self.reason, self.ex = reason, ex


def memory_error(error):
    if not error:
        return False
    text = f"{error.get('ename')} {error.get('evalue')}".lower()
    return error.get("ename") == "MemoryError" or "can't allocate memory" in text or "out of memory" in text


class Worker:
    def __init__(self, job):
        self.job = job
        self.kernel_dir = Path(job["kernel_dir"])
        self.out_dir = Path(job["worker_dir"]) / "files"
        self.out_dir.mkdir(parents=True, exist_ok=True)
        self.kernel_dir.mkdir(parents=True, exist_ok=True)
        self.events = open(Path(job["worker_dir"]) / "events.jsonl", "a", encoding="utf-8")
        self.t0 = time.monotonic()
        self.deadline = self.t0 + float(job["timeout"])
        self.cell_timeout = float(job["cell_timeout"])
        self.course_timeout = max(self.cell_timeout, COURSE_TIMEOUT)
        self.memory = int(job.get("memory") or 0)
        self.lock = threading.Lock()
        self.current = None  # (cell index, role, start time) of the cell running now
        self.last = None  # the last cell started
        self.killed = None  # why the watchdog killed the kernel
        self.errors = {}
        self.done = False

    def emit(self, **event):
        event["t"] = round(time.monotonic() - self.t0, 3)
        self.events.write(json.dumps(event) + "\n")
        self.events.flush()

    # --- hooks (nbclient calls them around every cell) ---------------------------

    def on_execute(self, cell, cell_index):
        role = cell.metadata.get(ROLE, {})
        if role.get("role") == "reset":
            blob = self.job.get("resets", {}).get(str(role["ex"]))
            if blob is not None:
                self._write_new(self.kernel_dir / "reset.pt", base64.b64decode(blob))
        with self.lock:
            self.current = self.last = (cell_index, role, time.monotonic())
        self.emit(event="start", cell=cell_index, **self._where(role))

    def on_executed(self, cell, cell_index, execute_reply):
        role = cell.metadata.get(ROLE, {})
        with self.lock:
            started = self.current[2] if self.current else time.monotonic()
            self.current = None
        content = (execute_reply or {}).get("content", {})
        error = None
        if content.get("status") == "error":
            error = {"ename": str(content.get("ename", ""))[:200], "evalue": str(content.get("evalue", ""))[:2000]}
        elapsed = time.monotonic() - started
        timed_out = bool(error) and error["ename"] == "KeyboardInterrupt" and elapsed >= self.timeout(role) - 0.5
        if role.get("role") == "reset":
            (self.kernel_dir / "reset.pt").unlink(missing_ok=True)
        moved = None
        if role.get("out"):
            source = self.kernel_dir / role["out"]
            if source.is_file() and not source.is_symlink():
                os.replace(source, self.out_dir / role["out"])
                moved = role["out"]
        self.emit(event="end", cell=cell_index, error=error, timeout=timed_out, elapsed=round(elapsed, 3),
                  file=moved, **self._where(role))
        if role.get("role") == "exercise":
            self.errors[role["ex"]] = self.errors.get(role["ex"]) or error
        if role.get("role") == "capture" and self.memory:
            if memory_error(self.errors.get(role["ex"])) or self._kernel_size() > MEMORY_SHARE * self.memory:
                raise Stop("memory", role["ex"])

    @staticmethod
    def _write_new(path, data):
        """A new file, never through whatever the kernel may have left at that name (a symlink, say)."""
        path.unlink(missing_ok=True)
        try:
            handle = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
        except OSError:
            return  # the reset cell then fails, and the exercise with it
        with os.fdopen(handle, "wb") as out:
            out.write(data)

    @staticmethod
    def _where(role):
        return {k: role[k] for k in ("role", "ex", "after") if k in role}

    def timeout(self, role):
        """The learner's cells get the job's cell timeout; the course's and the grader's cells a generous one."""
        return self.cell_timeout if role.get("role") == "exercise" else self.course_timeout

    def cell_timeout_of(self, cell):
        return max(1, int(self.timeout(cell.metadata.get(ROLE, {}))))

    # --- processes ----------------------------------------------------------------

    def _kernels(self):
        try:
            return psutil.Process().children(recursive=True)
        except psutil.Error:
            return []

    def _kernel_size(self):
        sizes = []
        for process in self._kernels():
            try:
                sizes.append(process.memory_info().vms)
            except psutil.Error:
                pass
        return max(sizes, default=0)

    def kill_all(self):
        """Every process this worker started (the kernel, and whatever the kernel started)."""
        for process in self._kernels():
            try:
                process.kill()
            except psutil.Error:
                pass

    def watchdog(self):
        while not self.done:
            time.sleep(0.25)
            with self.lock:
                current = self.current
            now = time.monotonic()
            reason = None
            if now > self.deadline:
                reason = "time-limit"
            elif current and now - current[2] > self.timeout(current[1]) + GRACE:
                reason = "timeout"
            if reason and self.killed is None and self._kernels():
                self.killed = reason
                self.kill_all()

    # --- the run --------------------------------------------------------------------

    def attempt(self, nb, start):
        """The notebook for a run from exercise `start` on: the learner's earlier cells become the course's stubs."""
        nb = copy.deepcopy(nb)
        for cell in nb.cells:
            role = cell.metadata.get(ROLE, {})
            if role.get("ex", start) < start:
                if role.get("role") == "exercise":
                    cell.source = role.get("stub", "")
                elif role.get("role") in ("reset", "capture"):
                    cell.source = ""
        return nb

    def run(self):
        nb = nbformat.from_dict(self.job["notebook"])
        start = int(self.job.get("first", 0))
        count = int(self.job.get("exercises", 0))
        threading.Thread(target=self.watchdog, daemon=True).start()
        while True:
            self.emit(event="attempt", start=start)
            with self.lock:
                self.current = self.last = None
            self.killed, self.errors = None, {}
            following = None
            try:
                papermill.execute_notebook(
                    self.attempt(nb, start), None, kernel_name=self.job.get("kernel", "python3"),
                    cwd=str(self.kernel_dir), progress_bar=False, log_output=False,
                    request_save_on_cell_execute=False, start_timeout=60,
                    execution_timeout=max(1, int(self.cell_timeout)), timeout_func=self.cell_timeout_of,
                    allow_errors=True, interrupt_on_timeout=True, shutdown_kernel="immediate",
                    on_cell_execute=self.on_execute, on_cell_executed=self.on_executed,
                    extra_arguments=["--HistoryManager.enabled=False"])
                self.emit(event="finished")
                return
            except papermill.PapermillExecutionError:  # errors in cells: allowed, the run reached the end
                self.emit(event="finished")
                return
            except Stop as stop:
                self.emit(event="stop", reason=stop.reason, ex=stop.ex)
                following = stop.ex + 1
            except Exception as error:  # the kernel died, was killed, or never started
                with self.lock:
                    cell, role, _ = self.current or self.last or (None, {}, 0)
                self.emit(event="died", reason=self.killed or "kernel-died", cell=cell,
                          error=f"{type(error).__name__}: {error}"[:500], **self._where(role))
                if self.killed == "time-limit" or not role:
                    return
                if role.get("role") == "reset":
                    following = role["ex"]
                elif "ex" in role:
                    following = role["ex"] + 1
                else:
                    following = role.get("after", -1) + 1
            finally:
                with self.lock:
                    self.current = None
                self.kill_all()
            if following <= start:  # no progress: the course's own cells failed
                self.emit(event="gave-up", start=start)
                return
            if following >= count:
                self.emit(event="finished")
                return
            if time.monotonic() > self.deadline - 2:
                self.emit(event="died", reason="time-limit", cell=None)
                return
            start = following


def limits(job):
    memory = int(job.get("memory") or 0)
    if memory:
        resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
    cpu = int(float(job["timeout"])) + 30  # each process's CPU time: a backstop for a kernel nobody could kill
    soft, hard = resource.getrlimit(resource.RLIMIT_CPU)
    if hard == resource.RLIM_INFINITY or hard > cpu:
        resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 10))
    try:  # orphans of the kernel become this worker's children, so that kill_all finds them
        ctypes.CDLL(None, use_errno=True).prctl(36, 1, 0, 0, 0)  # PR_SET_CHILD_SUBREAPER
    except Exception:
        pass


def terminate(signum, frame):
    raise SystemExit(128 + signum)  # runs main's `finally`: the kernel goes too


def main():
    job = json.loads(sys.stdin.read())
    limits(job)
    signal.signal(signal.SIGTERM, terminate)
    worker = Worker(job)
    try:
        worker.run()
    finally:
        worker.done = True
        worker.kill_all()
        worker.events.close()


if __name__ == "__main__":
    main()
