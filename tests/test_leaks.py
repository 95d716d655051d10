"""The leak guard's search: every secret value, wherever it sits in whichever file, found in one
pass over the bytes; the same answer as searching for each value in each file."""

from __future__ import annotations

import random
import string

from hacc.outdir.secret_store import MIN_TOKEN_LENGTH, LeakFinder, leaks, worker_token

TOKEN_ALPHABET = string.ascii_letters + string.digits + "._~+=-"
FILLER = TOKEN_ALPHABET + " \n\t:/\"'{}[],#é"


def plain_leaks(texts: dict[str, bytes], values: list[str]) -> list[str]:
    needles = [v.encode() for v in values if len(v) >= MIN_TOKEN_LENGTH]
    return sorted(name for name, data in texts.items() if any(n in data for n in needles))


def test_a_value_is_found_at_every_offset_of_every_run() -> None:
    token = "Zq0~" * 10  # 40 bytes
    finder = LeakFinder([token])
    for before in range(40):
        for after in (0, 1, 15, 16, 17, 33):
            for gap in ("", " ", "\n"):
                # glued to token bytes on either side (a run longer than the value), or alone
                text = f"head{gap}{'x' * before}{token}{'y' * after}{gap}tail"
                assert finder.found_in(text.encode()), (before, after, gap)
                cut = f"head{gap}{'x' * before}{token[:-1]}{gap}{'y' * after}"
                assert not finder.found_in(cut.encode()), (before, after, gap)


def test_same_answer_as_a_plain_search() -> None:
    rng = random.Random(20261208)
    values = [
        "".join(rng.choices(TOKEN_ALPHABET, k=rng.choice([32, 33, 47, 64]))) for _ in range(40)
    ]
    values += [worker_token(values[0], f"c{i}", "w1") for i in range(20)]
    values.append("a value with spaces, not a token at all: " + "x" * 10)  # searched plainly
    values.append("s" * 31)  # too short: never looked for
    texts: dict[str, bytes] = {}
    for n in range(300):
        parts = ["".join(rng.choices(FILLER, k=rng.randrange(0, 300))) for _ in range(3)]
        if n % 3 == 0:  # a whole value, in the middle of anything
            parts.insert(1, rng.choice(values))
        elif n % 3 == 1:  # most of a value: no leak
            v = rng.choice(values)
            parts.insert(1, v[: rng.randrange(1, len(v))])
        texts[f"f{n}"] = "".join(parts).encode()
    found = leaks(texts, values)
    assert found == plain_leaks(texts, values)
    assert 80 < len(found) < 150  # both kinds occur


def test_values_that_share_windows_are_all_checked() -> None:
    shared = "S" * 20
    a, b = shared + "a" * 20, shared + "b" * 20
    finder = LeakFinder([a, b])
    assert finder.found_in(f"-> {b} <-".encode())
    assert finder.found_in(f"-> {a} <-".encode())
    assert not finder.found_in(f"-> {shared}c{'b' * 20} <-".encode())


def test_a_shortest_value_alone_at_either_end_of_a_file() -> None:
    token = "0123456789abcdef" * 2  # MIN_TOKEN_LENGTH bytes, as worker tokens are
    finder = LeakFinder([token])
    for text in (token, f"{token}\n", f"token: {token}", f"{token} <- at the start"):
        assert finder.found_in(text.encode()), text
    for before in range(MIN_TOKEN_LENGTH + 1):  # at the end of a longer run, at the end of the file
        assert finder.found_in(f"token: {'x' * before}{token}".encode()), before
    assert not finder.found_in(f"token: {token[1:]}".encode())
