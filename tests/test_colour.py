"""Colour follows the terminal and the NO_COLOR / FORCE_COLOR conventions; JSON never has any."""

from __future__ import annotations

import os
import pty
import subprocess
import sys

from conftest import KEEPALIVED_EXAMPLE, replaced

ESC = "\x1b["


def bad_spec(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text(replaced(KEEPALIVED_EXAMPLE.read_text(), "port: 8443", "port: 16443"))
    return path


def run(argv, **env):
    base = {k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "FORCE_COLOR")}
    return subprocess.run(
        [sys.executable, "-m", "hacc", *argv],
        capture_output=True,
        text=True,
        env={**base, **env},
        timeout=120,
        check=False,
    )


def on_a_terminal(argv, **env) -> str:
    """stdout and stderr of hacc on a pseudo-terminal, as a person would see them."""
    base = {k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "FORCE_COLOR")}
    main, child = pty.openpty()
    proc = subprocess.Popen(
        [sys.executable, "-m", "hacc", *argv],
        stdin=subprocess.DEVNULL,
        stdout=child,
        stderr=child,
        env={**base, "TERM": "xterm", **env},
    )
    os.close(child)
    chunks = []
    while True:
        try:
            data = os.read(main, 65536)
        except OSError:  # the terminal closed: the process is done
            break
        if not data:
            break
        chunks.append(data)
    proc.wait(timeout=120)
    os.close(main)
    return b"".join(chunks).decode()


def test_piped_output_has_no_colour(tmp_path) -> None:
    r = run(["validate", str(bad_spec(tmp_path))])
    assert r.returncode == 1 and "error[HACC207]" in r.stderr and ESC not in r.stderr


def test_a_terminal_gets_colour_unless_no_color_or_dumb(tmp_path) -> None:
    spec = str(bad_spec(tmp_path))
    shown = on_a_terminal(["validate", spec])
    assert f"{ESC}1m{ESC}31merror[HACC207]{ESC}0m" in shown
    assert ESC not in on_a_terminal(["validate", spec], NO_COLOR="1")
    assert ESC not in on_a_terminal(["validate", spec], TERM="dumb")


def test_force_color_when_piped_and_no_color_wins(tmp_path) -> None:
    spec = bad_spec(tmp_path)
    forced = run(["validate", str(spec)], FORCE_COLOR="1")
    assert f"{ESC}1m{ESC}31merror[HACC207]" in forced.stderr
    assert ESC not in run(["validate", str(spec)], FORCE_COLOR="0").stderr
    assert ESC not in run(["validate", str(spec)], FORCE_COLOR="1", NO_COLOR="1").stderr
    plan = run(["plan", str(KEEPALIVED_EXAMPLE), "-o", str(tmp_path / "out")], FORCE_COLOR="1")
    assert f"{ESC}32m  + " in plan.stdout and f"{ESC}1mPlan: 51 to add" in plan.stdout
    usage = run(["build"], FORCE_COLOR="1")
    assert usage.returncode == 2 and usage.stderr.startswith(f"{ESC}31mhacc build: ")


def test_json_and_files_are_never_coloured(tmp_path) -> None:
    spec = bad_spec(tmp_path)
    for argv in (
        ["validate", str(spec), "--format", "json"],
        ["plan", str(KEEPALIVED_EXAMPLE), "-o", str(tmp_path / "o"), "--format", "json"],
        ["init", "-"],
        ["schema"],
    ):
        r = run(argv, FORCE_COLOR="1")
        assert ESC not in r.stdout, argv
