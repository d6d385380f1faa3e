"""crowdgui/jobs.py: child processes' JSON events become signals; failures and cancel are reported."""

import textwrap



from crowdgui.jobs import EngineJob  # noqa: E402


def _script(code: str) -> list[str]:
    return ["-c", textwrap.dedent(code)]


def _run(qtbot, job: EngineJob, timeout=20000):
    events, logs = [], []
    job.event_received.connect(events.append)
    job.log_line.connect(logs.append)
    with qtbot.waitSignal(job.finished, timeout=timeout) as finished:
        job.start()
    return events, logs, finished.args


def test_events_are_parsed_line_by_line(qtbot):
    job = EngineJob(_script("""
        import json, sys, time
        print(json.dumps({"type": "start", "total": 2}), flush=True)
        sys.stdout.write('{"type": "progress", "do'); sys.stdout.flush(); time.sleep(0.2)
        sys.stdout.write('ne": 1}\\n'); sys.stdout.flush()
        print("a plain line")
        print("to stderr", file=sys.stderr)
        print(json.dumps({"type": "done", "count": 3.5}))
    """))
    events, logs, (outcome, code) = _run(qtbot, job)
    assert [e["type"] for e in events] == ["start", "progress", "done"]
    assert events[1]["done"] == 1  # a line split across two reads is joined before parsing
    assert "a plain line" in logs and "to stderr" in logs
    assert (outcome, code) == ("succeeded", 0)


def test_a_failing_job_reports_its_error_message(qtbot):
    job = EngineJob(_script("""
        import json, sys
        print(json.dumps({"type": "error", "message": "out of memory on image 7"}))
        sys.exit(1)
    """))
    _, _, (outcome, code) = _run(qtbot, job)
    assert outcome == "failed" and code == 1
    assert "out of memory on image 7" in job.failure_summary()


def test_a_crash_without_events_shows_the_log_tail(qtbot):
    job = EngineJob(_script("raise RuntimeError('boom in the child')"))
    _, _, (outcome, _) = _run(qtbot, job)
    assert outcome == "failed"
    assert "boom in the child" in job.failure_summary()


def test_cancel_lets_the_child_clean_up(qtbot, tmp_path):
    marker = tmp_path / "saved"
    job = EngineJob(_script(f"""
        import json, signal, sys, time
        def stop(*_):
            open({str(marker)!r}, "w").write("saved")
            sys.exit(0)
        signal.signal(signal.SIGTERM, stop)
        print(json.dumps({{"type": "start"}}), flush=True)
        time.sleep(60)
    """))
    started = []
    job.event_received.connect(started.append)
    with qtbot.waitSignal(job.finished, timeout=20000) as finished:
        job.start()
        qtbot.waitUntil(lambda: bool(started), timeout=10000)
        job.cancel()
    assert finished.args[0] == "cancelled"
    assert marker.read_text() == "saved"


def test_engine_job_builds_the_command_a_user_would_type():
    job = EngineJob.engine(["count", "imgs", "--checkpoint", "m.pt"])
    assert job.python_args == ["-m", "engine", "count", "imgs", "--checkpoint", "m.pt", "--events", "jsonl"]
    assert "-m engine count imgs" in job.command_line
