"""10,000 generated specs: `validate` never fails inside hacc, and every spec that validates
builds (its artifacts pass the build's self-check). Seeded, so a failure can be replayed."""

from __future__ import annotations

import json
import random
import time
from typing import Any

import pytest

from hacc.compiler.frontend import analyze_text
from hacc.targets import render_cluster
from hacc.targets.selfcheck import problems
from test_property import NASTY_NUMBERS, NASTY_STRINGS, SPECS, mutate, paths

pytestmark = pytest.mark.slow

COUNT = 10_000
SEED = 20261129
TAILS = ["\n", "\r", "\t", " ", "\x00", "\u0085", "\u2028", "\u00a0", "\u009b", "\ud800", "'", '"']


def _strings(data: Any) -> list[str]:
    if isinstance(data, str):
        return [data]
    if isinstance(data, dict):
        return [s for k, v in data.items() for s in (*_strings(k), *_strings(v))]
    if isinstance(data, list):
        return [s for v in data for s in _strings(v)]
    return []


REAL = sorted({s for spec in SPECS for s in _strings(spec)})


def value(rng: random.Random) -> Any:
    roll = rng.random()
    if roll < 0.5:  # a real value with something after, before or inside it
        s, t = rng.choice(REAL), rng.choice(TAILS)
        return rng.choice([s + t, t + s, s[: len(s) // 2] + t + s[len(s) // 2 :]])
    if roll < 0.7:
        return rng.choice(NASTY_STRINGS)
    if roll < 0.85:
        return rng.choice(NASTY_NUMBERS)
    return rng.choice([None, [], {}, "x" * rng.randint(0, 300), rng.randint(-(2**40), 2**40)])


def generate(rng: random.Random) -> dict[str, Any]:
    spec = rng.choice(SPECS)
    for _ in range(rng.randint(1, 3)):
        path = rng.choice(paths(spec))
        action = rng.choice(["delete", "replace", "replace", "replace", "add-key", "duplicate"])
        spec = mutate(spec, path, action, value(rng))
    return spec


def cli(*argv: str) -> int:
    import contextlib
    import io

    from hacc.cli.main import main

    with contextlib.redirect_stderr(io.StringIO()), contextlib.redirect_stdout(io.StringIO()):
        return main(list(argv))


def test_generated_specs_validate_without_crashing_and_valid_ones_build(tmp_path) -> None:
    rng = random.Random(SEED)
    started = time.monotonic()
    valid = 0
    for i in range(COUNT):
        spec = generate(rng)
        # JSON is YAML: the text carries every value exactly, escapes included.
        text = json.dumps(spec, ensure_ascii=False)
        try:
            analysis = analyze_text(text, f"spec-{i}.yaml")
            if analysis.ok and analysis.cluster is not None:
                valid += 1
                broken = problems(render_cluster(analysis.cluster))
                assert not broken, broken[:3]
            if i % 20 == 0:  # the whole command, writing files, for a sample
                spec_file = tmp_path / f"spec-{i}.yaml"
                spec_file.write_text(text, encoding="utf-8", errors="surrogatepass")
                command = ("build", "-o", str(tmp_path / "out")) if analysis.ok else ("validate",)
                assert cli(*command, str(spec_file)) == (0 if analysis.ok else 1)
        except Exception as e:
            raise AssertionError(f"spec {i} (seed {SEED}): {type(e).__name__}: {e}\n{text}") from e
        assert time.monotonic() - started < 900, f"bounded: stopped at spec {i}"
    print(f"{COUNT} specs, {valid} valid and built, {time.monotonic() - started:.0f} s")
    assert valid > COUNT // 20, "the generator still produces specs that validate"
