"""Running the real consumers of hacc's artifacts. A missing tool fails the test (scripts/test
installs them all); tests that need root are skipped only outside CI."""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest


def tool(name: str) -> str:
    path = shutil.which(name) or (shutil.which(name, path="/usr/sbin:/sbin"))
    if path is None:
        pytest.fail(f"{name} is not installed; scripts/test installs it")
    return path


def run(*argv: str, **kw) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        list(argv), capture_output=True, text=True, check=False, timeout=120, **kw
    )


def shellchecked_script(folder: Path) -> Path:
    """The one generated script in `folder`: executable and shellcheck-clean at style level."""
    (script,) = folder.glob("*.sh")
    assert os.stat(script).st_mode & 0o777 == 0o755
    r = run(tool("shellcheck"), "--severity=style", str(script))
    assert r.returncode == 0, r.stdout
    return script


def require_root() -> None:
    if os.geteuid() != 0:
        if os.environ.get("CI"):
            pytest.fail("this test needs root, which CI has")
        pytest.skip("needs root (network and mount namespaces)")


@contextlib.contextmanager
def netns(name: str, interfaces: list[str]) -> Iterator[str]:
    """A network namespace of our own holding the named interfaces (veth ends, no route out)."""
    require_root()
    ip = tool("ip")
    run(ip, "netns", "del", name)  # a leftover from an interrupted run
    subprocess.run([ip, "netns", "add", name], check=True)
    try:
        for i, iface in enumerate(dict.fromkeys(interfaces)):
            subprocess.run(
                [ip, "-n", name, "link", "add", iface, "type", "veth", "peer", "name", f"hp{i}"],
                check=True,
            )
            subprocess.run([ip, "-n", name, "link", "set", iface, "up"], check=True)
        yield name
    finally:
        subprocess.run([ip, "netns", "del", name], check=False)


def keepalived_test(
    conf: str, scripts: dict[str, str], interfaces: list[str], tag: str, tmp: Path
) -> subprocess.CompletedProcess[str]:
    """`keepalived -t` in a namespace where the interfaces exist and the scripts sit at
    /etc/keepalived (a private mount namespace binds a folder of ours over it)."""
    etc = tmp / "etc-keepalived"
    etc.mkdir(mode=0o755, parents=True)
    (etc / "keepalived.conf").write_text(conf)
    for name, text in scripts.items():
        (etc / name).write_text(text)
        (etc / name).chmod(0o755)
    keepalived = tool("keepalived")
    if not Path("/etc/keepalived").is_dir():
        pytest.fail("/etc/keepalived is missing; the keepalived package creates it")
    with netns(f"hacc-ka-{os.getpid()}-{tag}", interfaces) as ns:
        script = f'mount --bind "{etc}" /etc/keepalived && exec "{keepalived}" -t -f /etc/keepalived/keepalived.conf'
        return run(
            "ip",
            "netns",
            "exec",
            ns,
            "unshare",
            "--mount",
            "--propagation",
            "private",
            "sh",
            "-c",
            script,
        )
