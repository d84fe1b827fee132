"""pytest collects the documentation too: every code block of `docs/*.md` and of the README
is a test item, run by Sybil as `tests/docs_runner.py` describes."""

from tests.docs_runner import readme, sybil

pytest_collect_file = (sybil + readme).pytest()
