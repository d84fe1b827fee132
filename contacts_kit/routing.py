"""Endpoints written once, at module level, served by every kit with that kit's dependencies.

A module's endpoints are plain functions a reader finds by name; the parameters that differ
from kit to kit (whose book, through which engine, with which settings) carry their type only.
A router factory gives each such parameter its kit's dependency with `wired`, which hands
FastAPI the endpoint's signature with `Depends` added: FastAPI reads an endpoint's parameters
from `inspect.signature`, which honours `__signature__`.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Coroutine
from typing import Annotated, Any, TypeVar

from fastapi import Depends

Result = TypeVar("Result")
Endpoint = Callable[..., Coroutine[Any, Any, Result]]


def wired(endpoint: Endpoint[Result], **dependencies: Callable[..., Any]) -> Endpoint[Result]:
    """`endpoint`, its parameters named in `dependencies` each given by that dependency."""
    signature = inspect.signature(endpoint, eval_str=True)
    unknown = dependencies.keys() - signature.parameters.keys()
    if unknown:
        raise TypeError(f"{endpoint.__qualname__} has no parameter {', '.join(sorted(unknown))}")
    parameters = [
        parameter.replace(annotation=Annotated[parameter.annotation, Depends(dependencies[name])])
        if name in dependencies
        else parameter
        for name, parameter in signature.parameters.items()
    ]

    @functools.wraps(endpoint)
    async def call(**values: Any) -> Result:
        return await endpoint(**values)

    call.__signature__ = signature.replace(parameters=parameters)  # type: ignore[attr-defined]
    return call
