from __future__ import annotations

import json
import subprocess
import sys

import pytest

from conftest import EXAMPLES, KEEPALIVED_EXAMPLE
from hacc.commands.args import MODES
from hacc.schemas import load_schema


def test_help_text(capsys, snapshot, monkeypatch) -> None:
    from hacc.cli.main import main

    monkeypatch.setenv("COLUMNS", "100")  # argparse wraps to the terminal width
    for argv in (["--help"], ["validate", "--help"], ["init", "--help"]):
        with pytest.raises(SystemExit):
            main(argv)
        assert capsys.readouterr().out == snapshot(name=" ".join(argv))


def test_no_command_prints_usage_and_exits_2(hacc) -> None:
    r = hacc()
    assert r.code == 2
    assert "usage: hacc" in r.err


@pytest.mark.parametrize(
    "argv",
    [
        ["bogus"],
        ["validate"],
        ["validate", "--format", "xml", "x.yaml"],
        ["init", "--mode", "nginx"],
    ],
)
def test_usage_errors_exit_2(hacc, argv) -> None:
    r = hacc(*argv)
    assert r.code == 2
    assert r.err.startswith("hacc")
    assert "Traceback" not in r.err


def test_version(capsys) -> None:
    from hacc import __version__
    from hacc.cli.main import main

    with pytest.raises(SystemExit) as exc:
        main(["--version"])
    assert exc.value.code == 0
    assert capsys.readouterr().out == f"hacc {__version__}\n"


def test_missing_file_is_located(hacc, tmp_path) -> None:
    missing = tmp_path / "nope.yaml"
    r = hacc("validate", str(missing))
    assert r.code == 1
    assert (
        r.err.splitlines()[0]
        == f"{missing}:1:1: error[HACC001]: cannot read the spec: no such file"
    )


def test_directory_is_located(hacc, tmp_path) -> None:
    r = hacc("validate", str(tmp_path))
    assert r.code == 1
    assert "error[HACC001]: cannot read the spec: it is a directory" in r.err


def test_all_problems_of_all_specs_at_once(hacc, tmp_path) -> None:
    a = tmp_path / "a.yaml"
    b = tmp_path / "b.yaml"
    a.write_text("kind: HACluster\n")
    b.write_text("a: [\n")
    r = hacc("validate", str(a), str(b), str(KEEPALIVED_EXAMPLE))
    assert r.code == 1
    files = [line.split(":")[0] for line in r.err.splitlines()[:-1]]
    assert str(a) in files and str(b) in files
    assert r.err.splitlines()[-1].endswith("in 3 specs")


def test_json_format(hacc, tmp_path) -> None:
    spec = tmp_path / "s.yaml"
    spec.write_text(
        "apiVersion: hacc.dev/v1alpha1\nkind: HACluster\nmetadata: {name: x}\nspec: {}\n"
    )
    r = hacc("validate", "--format", "json", str(spec))
    assert r.code == 1
    report = json.loads(r.out)
    assert report["errors"] == 2 and report["warnings"] == 0
    assert (report["format_version"], report["command"]) == ("1", "validate")
    assert {d["code"] for d in report["diagnostics"]} == {"HACC101"}
    first = report["diagnostics"][0]
    assert (first["file"], first["line"], first["column"], first["severity"]) == (
        str(spec),
        4,
        1,
        "error",
    )


def test_internal_error_is_one_line_exit_3(hacc, monkeypatch, tmp_path) -> None:
    from hacc.outdir import analyses

    def boom(path, **_):
        raise RuntimeError("kaboom")

    monkeypatch.setattr(analyses, "analyze", boom)
    r = hacc("validate", str(KEEPALIVED_EXAMPLE))
    assert r.code == 3
    assert r.err.count("\n") == 1
    assert "internal error: RuntimeError: kaboom" in r.err
    assert "Traceback" not in r.err
    with pytest.raises(RuntimeError):
        hacc("--debug", "validate", str(KEEPALIVED_EXAMPLE))


def test_schema_command_prints_the_shipped_schema(hacc, tmp_path) -> None:
    r = hacc("schema")
    assert r.code == 0
    assert json.loads(r.out) == load_schema()
    out = tmp_path / "schema.json"
    assert hacc("schema", "-o", str(out)).code == 0
    assert json.loads(out.read_text()) == load_schema()


@pytest.mark.parametrize("mode", MODES)
def test_init_writes_a_spec_that_validates_clean(hacc, tmp_path, mode) -> None:
    path = tmp_path / "ha-cluster.yaml"
    r = hacc("init", str(path), "--mode", mode, "--name", "edge-01")
    assert r.code == 0, r.err
    text = path.read_text()
    assert text.startswith("# yaml-language-server: $schema=./hacluster-v1alpha1.schema.json\n")
    assert f"mode: {mode}" in text
    v = hacc("validate", "--strict", str(path))
    assert v.code == 0, v.err


def test_init_refuses_to_overwrite(hacc, tmp_path) -> None:
    path = tmp_path / "ha-cluster.yaml"
    path.write_text("mine\n")
    r = hacc("init", str(path))
    assert r.code == 1
    assert "exists; pass --force" in r.err
    assert path.read_text() == "mine\n"
    assert hacc("init", str(path), "--force").code == 0
    assert path.read_text() != "mine\n"


def test_init_to_stdout_and_bad_name(hacc) -> None:
    r = hacc("init", "-", "--mode", "kube-vip")
    assert r.code == 0 and "mode: kube-vip" in r.out
    # no schema file is written beside standard output, so no modeline names one
    assert "yaml-language-server" not in r.out and r.out.startswith("# A MicroK8s")
    url = hacc("init", "-", "--schema-url", "https://example.com/s.json").out
    assert url.startswith("# yaml-language-server: $schema=https://example.com/s.json\n")
    bad = hacc("init", "-", "--name", "Bad_Name")
    assert bad.code == 2 and "DNS-1123" in bad.err


def test_the_examples_modelines_name_the_schema_offline() -> None:
    """An editor opening an example in a clone validates it without a network."""
    from hacc.compiler.editor_schema import MODELINE
    from hacc.schemas import schema_text

    for example in EXAMPLES:
        m = MODELINE.search(example.read_text().split("\n", 1)[0])
        assert m, example
        assert not m.group(1).startswith(("http:", "https:")), example
        assert (example.parent / m.group(1)).read_text() == schema_text(), example


def test_console_script_runs_without_traceback(tmp_path) -> None:
    spec = tmp_path / "s.yaml"
    spec.write_text("a: [\n")
    proc = subprocess.run(
        [sys.executable, "-m", "hacc", "validate", str(spec)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 1
    assert proc.stderr.startswith(f"{spec}:2:1: error[HACC004]:")


def test_commit_options_without_commit_are_usage_errors(hacc, tmp_path) -> None:
    from conftest import KEEPALIVED_EXAMPLE

    for extra in (["-m", "msg"], ["--repo", str(tmp_path)]):
        r = hacc("build", str(KEEPALIVED_EXAMPLE), "-o", str(tmp_path / "out"), *extra)
        assert r.code == 2 and "go with --commit" in r.err
        assert not (tmp_path / "out").exists()


def test_a_comma_that_split_a_flow_mapping_gets_a_hint(hacc, tmp_path) -> None:
    from conftest import KEEPALIVED_EXAMPLE, replaced

    block = (
        "    apiserverArgs:\n"
        "      --authorization-mode: RBAC,Node\n"
        '      --audit-log-maxage: "30"\n'
        "      --event-ttl: null\n"
    )
    flow = "    apiserverArgs: {--authorization-mode: RBAC,Node, --event-ttl: null}\n"
    spec = tmp_path / "spec.yaml"
    spec.write_text(replaced(KEEPALIVED_EXAMPLE.read_text(), block, flow))
    r = hacc("validate", str(spec))
    assert r.code == 1 and "error[HACC104]" in r.err
    assert "'Node' is not valid" in r.err and "quote it, as in 'RBAC,Node'" in r.err, r.err


def test_init_writes_the_schema_beside_the_spec_and_build_keeps_it_current(hacc, tmp_path) -> None:
    from hacc.schemas import schema_text

    spec = tmp_path / "ha-cluster.yaml"
    schema = tmp_path / "hacluster-v1alpha1.schema.json"
    assert hacc("init", str(spec), "--name", "edge").code == 0
    assert spec.read_text().splitlines()[0] == (
        "# yaml-language-server: $schema=./hacluster-v1alpha1.schema.json"
    )
    assert schema.read_text() == schema_text()
    out = str(tmp_path / "out")
    assert hacc("build", str(spec), "-o", out).code == 0
    # an older hacc's schema: --check says so, build brings it up to date
    schema.write_text('{"$id": "https://hacc.dev/schemas/hacluster-v1alpha1.json"}\n')
    r = hacc("build", "--check", "-o", out)
    assert r.code == 1 and f"{schema}: the spec's editor schema is out of date" in r.err
    r = hacc("build", str(spec), "-o", out)
    assert r.code == 0 and f"update {schema}" in r.err
    assert schema.read_text() == schema_text()
    assert hacc("build", "--check", "-o", out).code == 0
    # a file of someone else's under that name is never touched
    schema.write_text('{"title": "mine"}\n')
    assert hacc("build", str(spec), "-o", out).code == 0
    assert schema.read_text() == '{"title": "mine"}\n'


def test_init_with_a_schema_url_writes_no_schema_file(hacc, tmp_path) -> None:
    spec = tmp_path / "ha-cluster.yaml"
    url = "https://example.com/hacluster.json"
    assert hacc("init", str(spec), "--schema-url", url).code == 0
    assert spec.read_text().splitlines()[0] == f"# yaml-language-server: $schema={url}"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ha-cluster.yaml"]


@pytest.mark.parametrize(
    "url",
    ["https://x.example/s.json\napiVersion: evil", "https://x.example/\u2028kind: x",
     "https://x.example/\u0085a: b", "./my schema.json", "", "https://x.example/\u202e.json"],
)  # fmt: skip
def test_init_refuses_a_schema_url_that_would_leave_the_modeline(hacc, tmp_path, url) -> None:
    spec = tmp_path / "ha-cluster.yaml"
    r = hacc("init", str(spec), "--schema-url", url)
    assert r.code == 2 and "--schema-url" in r.err and "URI characters" in r.err
    assert not spec.exists()


def test_every_command_documents_its_exit_codes() -> None:
    """`--help` of every command ends with its exit codes, and the README's table names every
    command the parser has."""
    import argparse

    from conftest import REPO
    from hacc.cli import parser

    sub = next(a for a in parser.build()._actions if isinstance(a, argparse._SubParsersAction))
    readme = (REPO / "README.md").read_text()
    for name, command in sub.choices.items():
        assert "exit codes:" in (command.epilog or ""), name
        assert f"`hacc {name}" in readme or f"`sudo hacc {name}" in readme, name
    assert "plan --strict" in readme or "[--strict] [--format json]" in readme
    assert "--allow-git" in readme


def test_a_command_line_parses_alike_with_only_its_command_built(hacc) -> None:
    """main() builds only the command the line names: that command's parser (its help, its
    arguments) is the one the whole command line has."""
    import argparse

    from hacc.cli.parser import NAMES, build

    def subparsers(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
        sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
        return dict(sub.choices)

    whole = subparsers(build())
    assert sorted(whole) == sorted(NAMES)
    for name in NAMES:
        alone = subparsers(build(name))
        assert list(alone) == [name]
        assert alone[name].format_help() == whole[name].format_help(), name
    r = hacc("validate", "--strict", "--format", "json", str(KEEPALIVED_EXAMPLE))
    assert r.code == 0 and json.loads(r.out)["errors"] == 0
    unknown = hacc("vaildate", str(KEEPALIVED_EXAMPLE))
    assert unknown.code == 2 and "choose from" in unknown.err and "'build'" in unknown.err


@pytest.mark.parametrize("columns", ["", "50", "132", "0", "wide"])
def test_help_is_as_wide_as_argparse_makes_it(monkeypatch, columns) -> None:
    """hacc.cli.parser.columns stands in for shutil.get_terminal_size (not imported by validate)."""
    import shutil

    from hacc.cli.parser import columns as hacc_columns

    monkeypatch.setenv("COLUMNS", columns)
    assert hacc_columns() == shutil.get_terminal_size().columns


def test_the_executable_ends_validate_with_its_output_whole(tmp_path) -> None:
    """`hacc validate` through the executable: its report arrives whole, through pipes, with the
    right exit code."""
    bad = tmp_path / "bad.yaml"
    bad.write_text("apiVersion: x\n")

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        argv = [sys.executable, "-m", "hacc", "validate", *args]
        return subprocess.run(argv, capture_output=True, text=True, check=False)

    r = run("--format", "json", str(bad))
    assert r.returncode == 1 and json.loads(r.stdout)["errors"] == 4
    r = run(str(bad), str(KEEPALIVED_EXAMPLE))
    assert r.returncode == 1 and r.stderr.endswith("4 errors, 0 warnings in 2 specs\n")
    r = run(str(KEEPALIVED_EXAMPLE))
    assert (r.returncode, r.stdout, r.stderr) == (0, "", "1 spec valid\n")


def test_a_modeline_cannot_send_build_outside_the_specs_folder(hacc, tmp_path) -> None:
    """Only a .json beside or below the spec is kept current; `..` or an absolute path is not."""
    (tmp_path / "specs").mkdir()
    spec = tmp_path / "specs" / "ha-cluster.yaml"
    assert hacc("init", str(spec), "--name", "edge").code == 0
    old = '{"$id": "https://hacc.dev/schemas/hacluster-v1alpha1.json"}\n'
    outside = tmp_path / "elsewhere.schema.json"
    outside.write_text(old)
    for target in ("../elsewhere.schema.json", str(outside)):
        text = spec.read_text().split("\n", 1)[1]
        spec.write_text(f"# yaml-language-server: $schema={target}\n{text}")
        assert hacc("build", str(spec), "-o", str(tmp_path / "out")).code == 0
        assert outside.read_text() == old
