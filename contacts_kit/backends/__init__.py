"""Built-in backends. Each module is an ordinary plugin registered with `trylast=True`."""
