"""`kbbot serve --workers N`: N serving processes on one port, and the first process that supervises them.

SO_REUSEPORT lets the kernel spread connections over the workers, each with its own index and event loop, all on
the one store, so one host answers on N cores. The first process only starts them and waits: it passes SIGTERM,
SIGINT and SIGHUP on to every worker, and when one worker dies the others are stopped and the exit code is the
dead worker's. The workers share their metrics through a folder made for the run (see MetricsShare), removed
when the run ends.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import signal
import tempfile
from collections.abc import Callable
from pathlib import Path

from kbbot.errors import ConfigError
from kbbot.settings import Settings

log = logging.getLogger(__name__)

FORWARDED = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)


def run_workers(settings: Settings, workers: int, *, run_one: Callable[..., int]) -> int:
    """Fork `workers` serving processes on one port and wait for them; see the module docstring."""
    children: dict[int, int] = {}  # pid -> worker number
    metrics_dir = Path(tempfile.mkdtemp(prefix="kbbot-metrics-"))
    stopping = False

    def forward(signum: int, _frame: object) -> None:
        nonlocal stopping
        if signum != signal.SIGHUP:
            stopping = True
        for pid in list(children):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signum)

    # Blocked while forking, so a signal cannot land between a fork and the handler that passes it on.
    signal.pthread_sigmask(signal.SIG_BLOCK, FORWARDED)
    previous = {sig: signal.signal(sig, forward) for sig in FORWARDED}
    try:
        for number in range(workers):
            pid = os.fork()
            if pid == 0:  # the worker: default handlers (serve() installs its own), then serve until told
                for sig in FORWARDED:
                    signal.signal(sig, signal.SIG_DFL)
                signal.pthread_sigmask(signal.SIG_UNBLOCK, FORWARDED)
                code = 1
                try:
                    code = run_one(settings, reuse_port=True, metrics_dir=metrics_dir)
                except ConfigError as exc:
                    log.error("worker %d: %s", number, exc)
                    code = 2
                except BaseException:
                    log.exception("worker %d failed", number)
                finally:
                    logging.shutdown()
                    os._exit(code)
            children[pid] = number
        log.info("serving with %d worker processes: %s", workers, ", ".join(map(str, children)))
    finally:
        signal.pthread_sigmask(signal.SIG_UNBLOCK, FORWARDED)
    exit_code = 0
    try:
        while children:
            try:
                pid, status = os.wait()
            except InterruptedError:
                continue
            except ChildProcessError:
                break
            number = children.pop(pid, -1)
            if number < 0:
                continue
            code = os.waitstatus_to_exitcode(status)
            if code != 0 and exit_code == 0:
                exit_code = code if code > 0 else 128 - code  # killed by a signal: 128 + its number
            if not stopping:
                # a worker died on its own: the port would go on answering on fewer cores, unnoticed; stop all
                log.error("worker %d (pid %d) exited with %d; stopping the others", number, pid, code)
                stopping = True
                if exit_code == 0:
                    exit_code = 1
                for other in list(children):
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(other, signal.SIGTERM)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        shutil.rmtree(metrics_dir, ignore_errors=True)
    return exit_code
