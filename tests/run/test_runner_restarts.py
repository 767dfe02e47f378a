"""The runner keeps the site up when one of its processes dies: the dead one is started
again, the web server and the worker keep running (real processes, a real SIGKILL)."""

import os
import re
import signal
import subprocess
import sys
import time

import pytest
import requests

from tests.run.test_make_run import ROOT, read_until_ready, run_env  # noqa: F401 - fixture

pytestmark = pytest.mark.slow


def wait_for_line(process, pattern, deadline):
    seen = []
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            break
        seen.append(line)
        match = re.search(pattern, line)
        if match:
            return match
    raise AssertionError(f"no line matching {pattern!r}:\n" + "".join(seen))


def test_a_dead_demo_api_is_restarted_and_the_rest_keeps_running(run_env):  # noqa: F811
    process = subprocess.Popen(
        [sys.executable, "-m", "project.runner"],
        cwd=ROOT,
        env=run_env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    try:
        output = read_until_ready(process, time.monotonic() + 90)
        pids = {name: int(pid) for name, pid in re.findall(r"started (.+?) \(pid (\d+)\)", output)}
        blob_url = re.search(r"a blob:\s+(\S+)", output).group(1)
        api = f"http://127.0.0.1:{run_env['BITSTORE_DEMO_API_PORT']}/blobs/{'0' * 40}"
        assert requests.get(api, timeout=5).status_code == 404

        os.kill(pids["demo API"], signal.SIGKILL)
        wait_for_line(process, r"demo API exited .*restarting", time.monotonic() + 10)
        restarted = wait_for_line(process, r"started demo API \(pid (\d+)\)", time.monotonic() + 10)
        assert int(restarted.group(1)) != pids["demo API"]
        deadline = time.monotonic() + 10
        while True:
            try:
                assert requests.get(api, timeout=5).status_code == 404
                break
            except requests.ConnectionError:
                assert time.monotonic() < deadline, "the demo API did not come back"
                time.sleep(0.2)
        assert requests.get(blob_url, timeout=10).status_code == 200
        for name in ("web", "worker"):
            os.kill(pids[name], 0)  # still running: raises if gone
        assert process.poll() is None
    finally:
        os.killpg(process.pid, signal.SIGINT)
        rest, _ = process.communicate(timeout=30)
    assert "stopped" in rest
