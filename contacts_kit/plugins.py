"""Plugin manager factory: one manager per `ContactsKit` instance, never a module global."""

from __future__ import annotations

import importlib
from collections.abc import Iterable

import pluggy

from contacts_kit import hookspecs
from contacts_kit.errors import ConfigurationError

ENTRY_POINT_GROUP = "contacts_kit"

# Among `trylast` implementations pluggy calls the first registered first: a conditional
# backend (SMTP when a server is set) comes before the fallback it declines to (console).
DEFAULT_PLUGINS = (
    "contacts_kit.backends.cache_redis",
    "contacts_kit.backends.cache_memory",
    "contacts_kit.backends.mail_smtp",
    "contacts_kit.backends.mail_console",
    "contacts_kit.backends.storage_cloudinary",
    "contacts_kit.backends.storage_local",
    "contacts_kit.backends.ratelimit_redis",
    "contacts_kit.backends.ratelimit_memory",
)


def make_plugin_manager(
    plugins: Iterable[object] = (), *, load_entry_points: bool = True
) -> pluggy.PluginManager:
    """Build a manager with the specs, the built-in defaults, installed and given plugins.

    Built-ins register their providers with `trylast=True`, so any other plugin wins. A hook
    implementation that matches no specification (a misspelled name) stops the start-up.
    """
    manager = pluggy.PluginManager(hookspecs.PROJECT_NAME)
    manager.add_hookspecs(hookspecs)
    try:
        for name in DEFAULT_PLUGINS:
            manager.register(importlib.import_module(name), name=name)
        if load_entry_points:
            manager.load_setuptools_entrypoints(ENTRY_POINT_GROUP)
        for plugin in plugins:
            manager.register(plugin)
        manager.check_pending()
    except pluggy.PluginValidationError as exc:
        raise ConfigurationError(f"plugin {exc.plugin!r}: {exc}") from exc
    return manager
