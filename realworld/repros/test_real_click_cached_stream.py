"""Real leak (click 8.5.1): every new sys.stdout that click.echo() sees is kept forever.

click._compat._make_cached_stream_func caches, per stream, the text stream
click should write to, in a WeakKeyDictionary.  On POSIX the cached value is
usually the stream itself (_force_correct_text_writer returns it unchanged),
so the value keeps its own weak key alive and the entry never goes away.
CliRunner.invoke() (and pytest's capsys/capfd) install a fresh sys.stdout per
call: each invoke that echoes leaks its _NamedTextIOWrapper, BytesIOCopy,
BytesIO and output (~1.3 KiB; 1000 invokes -> 1000 cache entries).
Needs click.

    pytest -p no:cacheprovider --leakguard-all realworld/repros/test_real_click_cached_stream.py
    # LEAKED ~1.3 KiB and 7 objects per run (_io.BytesIO, click.testing.BytesIOCopy, ...)
"""
from __future__ import annotations

import pytest

click = pytest.importorskip("click")
from click.testing import CliRunner  # noqa: E402


@click.command()
def hello():
    click.echo("hello")


def test_invoke_echo():
    assert CliRunner().invoke(hello).output == "hello\n"
