"""The long-running router behind ``radiomark serve``: studies arrive (a storage SCP writes them into
``OUT/spool/<StudyInstanceUID>/``), a study counts as complete when no instance has arrived for
``settle_s`` seconds, complete studies wait in a bounded queue, one worker runs the recipe on each
(``process``, which also sends the results back), retrying a failed study ``retries`` times, and a
study that still fails is moved whole to ``OUT/dead-letter/<StudyInstanceUID>/`` with ``error.txt``
beside it. Nothing is lost on a restart: studies left in the spool are taken up again.

Bounded queue: while ``queue_size`` studies are received-but-not-started, a new study is refused
(the SCP answers "out of resources", 0xA700) and its sender retries later; instances of studies
already admitted are always taken.

Status: ``GET /status`` on the HTTP port answers JSON (every study's state, attempts, last error,
the queue, counts); ``GET /health`` answers ``ok``. States: receiving → queued → running → done, or
→ retrying → … → dead-letter.
"""

from __future__ import annotations

import json
import logging
import shutil
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from radiomark.io.atomic import atomic_file

log = logging.getLogger(__name__)


@dataclass
class StudyState:
    """What the router knows of one study; times are seconds since the epoch (UTC)."""

    state: str
    instances: int = 0
    attempts: int = 0
    first_received: float = field(default_factory=time.time)
    last_received: float = field(default_factory=time.time)
    finished: float | None = None
    error: str | None = None
    #: Instances arrived while the study was queued or running: it runs again once they settle.
    more: bool = False


@dataclass(frozen=True)
class RouterSettings:
    """How the router waits, queues and retries (seconds where timed)."""

    settle_s: float = 10.0
    queue_size: int = 8
    retries: int = 2
    retry_wait_s: float = 10.0


class Router:
    """Runs ``process(study_folder, study_uid)`` on each complete study of ``out/spool``; see the module."""

    def __init__(self, out: Path, process: Callable[[Path, str], None], settings: RouterSettings,
                 description: dict[str, Any]) -> None:
        self.out, self.process, self.settings, self.description = out, process, settings, description
        self.spool, self.dead_letter = out / "spool", out / "dead-letter"
        self.spool.mkdir(parents=True, exist_ok=True)
        self.dead_letter.mkdir(parents=True, exist_ok=True)
        self.started = time.time()
        self._lock = threading.Lock()
        self._wake = threading.Condition(self._lock)
        self._studies: dict[str, StudyState] = {}
        self._queue: list[str] = []
        self._stopping = False
        self._threads: list[threading.Thread] = []
        self._http: ThreadingHTTPServer | None = None
        for left in sorted(p for p in self.spool.iterdir() if p.is_dir() and not p.name.startswith(".")):
            self._studies[left.name] = StudyState("receiving", instances=sum(1 for _ in left.rglob("*.dcm")))
            log.info("study %s was left in the spool: it will run again", left.name)

    # -- arrivals (called from the storage SCP's threads) --------------------------------------------
    def admit(self, study: str) -> bool:
        """Whether an instance of ``study`` may be taken now (False: the queue is full of other studies)."""
        with self._lock:
            if self._stopping:
                return False
            if study in self._studies and self._studies[study].state not in ("done", "dead-letter"):
                return True
            return self._waiting() < self.settings.queue_size

    def received(self, study: str) -> None:
        """One more instance of ``study`` is in the spool."""
        with self._lock:
            known = self._studies.get(study)
            if known is None or known.state in ("done", "dead-letter"):
                self._studies[study] = known = StudyState("receiving")
            elif known.state in ("queued", "running", "retrying"):
                known.more = True
            known.instances += 1
            known.last_received = time.time()

    def _waiting(self) -> int:
        return sum(s.state in ("receiving", "queued") for s in self._studies.values())

    # -- the settle, worker and status threads ------------------------------------------------------
    def start(self, http_host: str, http_port: int) -> None:
        """Start the threads and the status server on ``http_host:http_port`` (returns at once)."""
        self._threads = [threading.Thread(target=self._settle, name="radiomark-settle", daemon=True),
                         threading.Thread(target=self._work, name="radiomark-worker", daemon=True)]
        for thread in self._threads:
            thread.start()
        router = self

        class Status(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_GET(self) -> None:  # noqa: N802 (http.server's name)
                path = self.path.split("?")[0].rstrip("/")
                if path == "/status":
                    body, kind, code = json.dumps(router.status(), indent=2).encode(), "application/json", 200
                elif path == "/health":
                    body, kind, code = b"ok\n", "text/plain", 200
                else:
                    body, kind, code = b"not found: try /status or /health\n", "text/plain", 404
                self.send_response(code)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self._http = ThreadingHTTPServer((http_host, http_port), Status)
        thread = threading.Thread(target=self._http.serve_forever, name="radiomark-status", daemon=True)
        thread.start()

    def stop(self, wait_s: float = 600.0) -> None:
        """Stop taking studies; the study running finishes (up to ``wait_s``); queued ones stay in the spool."""
        with self._wake:
            self._stopping = True
            self._wake.notify_all()
        for thread in self._threads:
            thread.join(timeout=wait_s)
        if self._http is not None:
            self._http.shutdown()
            self._http.server_close()

    def _settle(self) -> None:
        while True:
            with self._wake:
                if self._stopping:
                    return
                now = time.time()
                for uid, study in self._studies.items():
                    if study.state == "receiving" and now - study.last_received >= self.settings.settle_s:
                        log.info("study %s complete (%d instances): queued", uid, study.instances)
                        study.state = "queued"
                        self._queue.append(uid)
                        self._wake.notify_all()
                self._wake.wait(timeout=min(1.0, self.settings.settle_s / 4))

    def _work(self) -> None:
        while True:
            with self._wake:
                while not self._queue and not self._stopping:
                    self._wake.wait()
                if self._stopping:
                    return
                uid = self._queue.pop(0)
                study = self._studies[uid]
                study.state, study.more = "running", False
                study.attempts += 1
            began = time.time()
            error = self._attempt(uid)
            with self._wake:
                if error is None:
                    study.state, study.error, study.finished = "done", None, time.time()
                    log.info("study %s done in %.1f s", uid, study.finished - began)
                    if not study.more:
                        shutil.rmtree(self.spool / uid, ignore_errors=True)
                elif study.attempts <= self.settings.retries:
                    study.state, study.error = "retrying", error
                    log.info("study %s will run again in %g s (attempt %d failed)", uid,
                             self.settings.retry_wait_s, study.attempts)
                else:
                    study.state, study.error, study.finished = "dead-letter", error, time.time()
                    self._to_dead_letter(uid, error)
                    log.warning("study %s moved to %s after %d attempts", uid, self.dead_letter / uid,
                                study.attempts)
                if study.more and study.state in ("done", "retrying"):
                    study.state, study.attempts = "receiving", 0  # run again with what arrived meanwhile
                elif study.state == "retrying":
                    threading.Timer(self.settings.retry_wait_s, self._requeue, args=(uid,)).start()

    def _attempt(self, uid: str) -> str | None:
        """Run the study once; its error as one line, None when it worked."""
        log.info("running study %s", uid)
        try:
            self.process(self.spool / uid, uid)
        except Exception as error:  # noqa: BLE001 (any failure is retried, then dead-lettered)
            log.warning("study %s failed: %s", uid, error)
            return f"{type(error).__name__}: {error}".splitlines()[0]
        return None

    def _requeue(self, uid: str) -> None:
        with self._wake:
            if not self._stopping and self._studies[uid].state == "retrying":
                self._studies[uid].state = "queued"
                self._queue.append(uid)
                self._wake.notify_all()

    def _to_dead_letter(self, uid: str, error: str) -> None:
        """Move the study's files to ``dead-letter/<uid>/`` (replacing an older one) with ``error.txt``."""
        target = self.dead_letter / uid
        shutil.rmtree(target, ignore_errors=True)
        shutil.move(str(self.spool / uid), target)
        with atomic_file(target / "error.txt") as temporary:
            temporary.write_text(f"{error}\nattempts: {self._studies[uid].attempts}\n")

    def status(self) -> dict[str, Any]:
        """The JSON status: the service, the queue, the counts per state and every study."""
        with self._lock:
            studies = {uid: asdict(state) for uid, state in self._studies.items()}
            counts: dict[str, int] = {}
            for state in self._studies.values():
                counts[state.state] = counts.get(state.state, 0) + 1
            waiting = self._waiting()
        return {**self.description, "started": datetime.fromtimestamp(self.started, UTC).isoformat(),
                "queue": {"waiting": waiting, "capacity": self.settings.queue_size}, "counts": counts,
                "studies": studies}


__all__: Sequence[str] = ["Router", "RouterSettings", "StudyState"]
