"""Built-in behaviour, implemented as ``trylast`` plugins so any plugin can override it."""
