"""What a leak report says: what grew, where, who holds it, how to accept it."""

from __future__ import annotations

import pytest

from pytest_leakguard.redact import mask_secrets, safe_repr

USER_CACHE = """
    import itertools
    import pytest

    class User:
        def __init__(self, n):
            self.n = n
            self.dsn = "postgresql://app:hunter2@db/app"

        def __repr__(self):
            return f"User({self.n}, dsn={self.dsn!r}, token='abc123secret')"

    CACHE = {}
    ids = itertools.count()

    def remember(n):
        CACHE[f"user:{n}"] = User(n)

    @pytest.mark.leakguard
    def test_user_cache():
        remember(next(ids))
"""


def test_report_names_types_sites_holder_and_the_way_to_accept_it(
    leakguard_pytester: pytest.Pytester,
) -> None:
    leakguard_pytester.makepyfile(USER_CACHE)

    result = leakguard_pytester.runpytest_subprocess("--leakguard")

    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "LEAKED * and 1 objects per run (runs: +1 +1 +1 +1 +1)",
            "Measured runs: 5 of * runs in all",
            "Types that grew (per run: count, retained size):",
            "  *.User*+1 *",
            "Allocated at (per run):",
            '  *.py:1? * CACHE[[]f"user:{n}"] = User(n)',
            "Held by:",
            "  * -> .CACHE (dict) -> [[]'user:*'] (*.User)",
            "Samples of *.User:",
            "  User(*, dsn='postgresql://app:***@db/app', token='***')",
            "To accept it: @pytest.mark.leakguard(ignore_types=[[]*User*])*no_leakguard*",
        ]
    )
    result.stdout.no_fnmatch_line("*hunter2*")
    result.stdout.no_fnmatch_line("*abc123secret*")
    result.stdout.fnmatch_lines(["LEAKED *test_user_cache - *1 objects per run*"])


def test_allocation_sites_leave_out_what_each_run_replaces(
    leakguard_pytester: pytest.Pytester,
) -> None:
    """A wrapper and a buffer re-created on every run are per-run state, not
    the leak: only what grew from one traced run to the next is a site."""
    leakguard_pytester.makepyfile(
        """
        import pytest

        registry = {}
        kept = []

        def activate():
            registry["buffer"] = ["payload"] * 2000
            registry["wrapper"] = lambda *args: args

        @pytest.mark.leakguard
        def test_leaks_a_little():
            activate()
            kept.append({"n": [len(kept)]})
        """
    )

    result = leakguard_pytester.runpytest_subprocess("--leakguard", "-p", "no:randomly")

    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        ["Allocated at (per run):", '  *.py:1? * kept.append({"n": [[]len(kept)]})']
    )
    result.stdout.no_fnmatch_line('*registry[[]"buffer"]*')
    result.stdout.no_fnmatch_line('*registry[[]"wrapper"]*')


def test_leaked_objects_with_hostile_dunders_are_reported_without_breaking(
    leakguard_pytester: pytest.Pytester,
) -> None:
    leakguard_pytester.makepyfile(
        """
        import pytest

        class Hostile:
            def __repr__(self):
                raise RuntimeError("no repr for you")
            def __sizeof__(self):
                raise RuntimeError("no size either")
            def __eq__(self, other):
                raise RuntimeError("no eq")
            def __hash__(self):
                raise RuntimeError("no hash")
            def __getattr__(self, name):
                raise RuntimeError(name)

        kept = []

        @pytest.mark.leakguard
        def test_hostile():
            kept.append(Hostile())
        """
    )

    result = leakguard_pytester.runpytest_subprocess("--leakguard")

    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*Hostile object at 0x* (repr raised RuntimeError)>*"])
    result.stdout.no_fnmatch_line("*INTERNALERROR*")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("redis://user:pa55word@localhost:6379/0", "redis://user:***@localhost:6379/0"),
        ("{'Authorization': 'Bearer abcdef123456'}", "{'Authorization': '***'}"),
        ("Authorization: Bearer abcdef123456", "Authorization: ***"),
        ("password=swordfish&user=bob", "password=***&user=bob"),
        ("api_key: 'k-123456'", "api_key: '***'"),
        ("nothing secret here", "nothing secret here"),
    ],
)
def test_obvious_secrets_are_masked(text: str, expected: str) -> None:
    assert mask_secrets(text) == expected


def test_safe_repr_truncates_and_survives_raising_repr() -> None:
    class Raises:
        def __repr__(self) -> str:
            raise ValueError("boom")

    assert "repr raised ValueError" in safe_repr(Raises())
    assert safe_repr("x" * 500, limit=20).endswith("...")
    assert len(safe_repr("x" * 500, limit=20)) == 20
