"""Pipeline commands the studio starts: ``strata pipeline resume`` in a process of its own.

The studio resumes a run exactly as a person does on the command line (``python -m
topicstrata pipeline resume RUN [--mapping FILE]``, so the same ``resume_run`` path with
the same checks), in a child process in a session of its own: a fit neither blocks
the web server nor stops when the browser tab closes or the studio restarts. Its
output goes to a log file under ``ROOT/.strata/studio/jobs/`` that the run page shows
while the run goes on; the run's status comes from the run store as for any run.
"""

from __future__ import annotations

import contextlib
import logging
import os
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from topicstrata.studio.errors import StudioError

__all__ = ["Job", "JobRunner", "jobs_dir"]

logger = logging.getLogger(__name__)

#: Lines of a job's log the run page shows.
TAIL_LINES = 40
#: How long a new job waits for the run's previous job to exit before it is refused.
EXIT_GRACE_S = 20.0
#: Bytes read from the end of a log to find those lines.
_TAIL_BYTES = 32_768


def jobs_dir(root: Path) -> Path:
    return root / ".strata" / "studio" / "jobs"


def tail(path: Path, lines: int = TAIL_LINES) -> str:
    """The last ``lines`` lines of a log (read from its end, whatever its size)."""
    try:
        with path.open("rb") as log:
            log.seek(0, os.SEEK_END)
            size = log.tell()
            log.seek(max(0, size - _TAIL_BYTES))
            text = log.read().decode("utf-8", "replace")
    except OSError:
        return ""
    return "\n".join(text.splitlines()[-lines:])


@dataclass
class Job:
    """One command the studio started for a run."""

    run_id: str
    command: list[str]
    log: Path
    started_at: float
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    @property
    def alive(self) -> bool:
        # poll() also reaps the finished child, so no zombie is left behind.
        return self.process is not None and self.process.poll() is None

    @property
    def returncode(self) -> int | None:
        return None if self.process is None else self.process.poll()

    def tail(self, lines: int = TAIL_LINES) -> str:
        return tail(self.log, lines)


class JobRunner:
    """Starts at most one job per run at a time and remembers the last one of each run."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._jobs: dict[str, Job] = {}
        self._lock = threading.Lock()

    def resume(self, run_id: str, mapping: Path | None = None) -> Job:
        """Start ``strata pipeline resume RUN [--mapping FILE]`` for ``run_id``; 409 if a job
        the studio started for it is still going."""
        command = [
            sys.executable,
            "-m",
            "topicstrata",
            "pipeline",
            "resume",
            run_id,
            "--root",
            str(self.root.resolve()),
            "--verbose",
        ]
        if mapping is not None:
            command += ["--mapping", str(mapping.resolve())]
        return self._start(run_id, command)

    def _start(self, run_id: str, command: list[str]) -> Job:
        with self._lock:
            current = self._jobs.get(run_id)
        if current is not None and current.process is not None and current.alive:
            # A run that paused at its next review is recorded as waiting a moment before
            # its process has exited: give that process a little time (not under the lock,
            # which every run page takes).
            with contextlib.suppress(subprocess.TimeoutExpired):
                current.process.wait(timeout=EXIT_GRACE_S)
        with self._lock:
            current = self._jobs.get(run_id)
            if current is not None and current.alive:
                raise StudioError(
                    409,
                    f"run {run_id} is already being resumed",
                    f"the studio started `{' '.join(current.command[2:])}` at "
                    f"{time.strftime('%H:%M:%S', time.localtime(current.started_at))} and it has "
                    "not finished; wait for it on the run page.",
                )
            folder = jobs_dir(self.root)
            folder.mkdir(parents=True, exist_ok=True)
            started = time.time()
            log = folder / f"{run_id}-{int(started * 1000)}.log"
            env = {**os.environ, "TERM": "dumb", "COLUMNS": "160", "PYTHONUNBUFFERED": "1"}
            with log.open("wb") as out:
                out.write(f"$ strata {' '.join(command[3:])}\n".encode())
                out.flush()
                process = subprocess.Popen(
                    command,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    stdin=subprocess.DEVNULL,
                    cwd=self.root,
                    env=env,
                    start_new_session=True,
                )
            job = Job(run_id, command, log, started, process)
            self._jobs[run_id] = job
            logger.info("studio started %s (process %d, log %s)", command[3:], process.pid, log)
            return job

    def latest(self, run_id: str) -> Job | None:
        """The last job of ``run_id``: one started by this studio, else the newest log on
        disk (from an earlier studio process, so without a process to ask)."""
        with self._lock:
            job = self._jobs.get(run_id)
        if job is not None:
            return job
        logs = sorted(jobs_dir(self.root).glob(f"{run_id}-*.log"))
        if not logs:
            return None
        log = logs[-1]
        return Job(run_id, [], log, log.stat().st_mtime)

    def wait(self, run_id: str, timeout_s: float) -> int | None:
        """Wait for this studio's job of ``run_id`` to end; its exit code (None if none)."""
        job = self._jobs.get(run_id)
        if job is None or job.process is None:
            return None
        return job.process.wait(timeout=timeout_s)
