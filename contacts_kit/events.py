"""Event hooks, called one plugin at a time: a failing plugin is logged with its name and the
others still run."""

from __future__ import annotations

import inspect
import logging
from dataclasses import dataclass
from typing import Any

import pluggy

from contacts_kit.backends.protocols import Cache, Mailer, MailMessage, Storage
from contacts_kit.mail import deliver
from contacts_kit.settings import Settings

logger = logging.getLogger("contacts_kit.events")


@dataclass(frozen=True)
class HookContext:
    """What an event hook receives besides the event: the kit's settings and backends."""

    settings: Settings
    cache: Cache
    mailer: Mailer
    storage: Storage

    async def send_mail(self, message: MailMessage) -> bool:
        """Send through the kit's mailer; a failure is logged and reported as False."""
        return await deliver(self.mailer, message)


class Events:
    """Calls `on_*` hooks of a plugin manager, each implementation on its own. Each module
    has its own subclass with one typed method per hook it fires, so mypy checks every call
    (`contacts_kit.contact.events`, `contacts_kit.users.events`)."""

    def __init__(self, plugin_manager: pluggy.PluginManager, context: HookContext) -> None:
        self.hook = plugin_manager.hook
        self.context = context

    async def emit(self, caller: pluggy.HookCaller, **event: Any) -> None:
        """Call every implementation of `caller` with `event` and the context; one that
        raises is logged and the others still run."""
        arguments = {**event, "context": self.context}
        # pluggy's own call stops at the first implementation that raises and leaves the
        # coroutines of the others un-awaited; here each one runs whatever the others do.
        for impl in reversed(caller.get_hookimpls()):
            if impl.hookwrapper or impl.wrapper:
                continue
            try:
                result = impl.function(*(arguments[name] for name in impl.argnames))
                if inspect.isawaitable(result):
                    await result
            except Exception:
                logger.exception("plugin %s failed in %s", _describe(impl.plugin), caller.name)


def _describe(plugin: object) -> str:
    """A plugin's name for the log: its module, or its class for a plugin object."""
    if inspect.ismodule(plugin):
        return plugin.__name__
    kind = type(plugin)
    return f"{kind.__module__}.{kind.__qualname__}"
