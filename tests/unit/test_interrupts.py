"""Ctrl-C: a scan stops with one line (asyncio's noise about the cut connections dropped), and an interrupt
that lands in a finaliser is not lost."""

from __future__ import annotations

import asyncio
import logging
import subprocess
import sys
import textwrap

import pytest

from souverain.scan.engine import QuietWhenStopping


def _report(loop: asyncio.AbstractEventLoop, message: str) -> None:
    # what uvloop does when a connection is cut under an SSL transport: the loop's exception handler logs it
    loop.call_exception_handler({"message": message, "exception": RuntimeError("the handler is closed")})


def test_asyncio_reports_are_dropped_only_once_the_main_task_is_cancelled(
    caplog: pytest.LogCaptureFixture,
) -> None:
    quiet = QuietWhenStopping()

    async def main() -> None:
        quiet.task = asyncio.current_task()
        loop = asyncio.get_running_loop()
        _report(loop, "while scanning")
        assert quiet.task is not None
        quiet.task.cancel()  # what asyncio.Runner does on Ctrl-C, and the scan on SIGTERM
        try:
            await asyncio.sleep(1)
        except asyncio.CancelledError:
            _report(loop, "while stopping")
            raise

    caplog.set_level(logging.ERROR, logger="asyncio")
    with quiet, asyncio.Runner() as runner, pytest.raises(asyncio.CancelledError):
        runner.run(main())
    messages = [r.getMessage() for r in caplog.records if r.name == "asyncio"]
    assert messages == ["while scanning"]
    assert quiet not in logging.getLogger("asyncio").filters  # removed with the scan


def test_reports_after_the_scan_ended_are_dropped_too(caplog: pytest.LogCaptureFixture) -> None:
    quiet = QuietWhenStopping()

    async def main() -> None:
        quiet.task = asyncio.current_task()

    caplog.set_level(logging.ERROR, logger="asyncio")
    with quiet, asyncio.Runner() as runner:
        runner.run(main())
        _report(runner.get_loop(), "while closing")
    assert [r for r in caplog.records if r.name == "asyncio"] == []


_FINALISER = textwrap.dedent(
    """
    import time
    from souverain.processes import redeliver_lost_interrupts
    if HOOK:
        redeliver_lost_interrupts()

    class Finalised:
        def __del__(self):
            raise KeyboardInterrupt  # what SIGINT does when it arrives while a finaliser runs

    Finalised()  # Python prints "Exception ignored in ..." and goes on
    try:
        time.sleep(2)
        print("went on")
    except KeyboardInterrupt:
        print("interrupted")
    """
)


@pytest.mark.parametrize("hook", [True, False], ids=["hook", "plain-python"])
def test_an_interrupt_raised_in_a_finaliser_is_delivered_again(hook: bool) -> None:
    code = f"HOOK = {hook}\n" + _FINALISER
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=30)
    if hook:
        assert proc.stdout.strip() == "interrupted", proc.stderr
        assert "Exception ignored" not in proc.stderr
    else:  # the premise: without the hook, the interrupt is lost
        assert proc.stdout.strip() == "went on"
        assert "Exception ignored" in proc.stderr
