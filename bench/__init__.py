"""Benchmarks of contacts-kit against a bare Starlette + asyncpg floor. `python -m bench run`."""
