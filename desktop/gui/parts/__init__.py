"""The window's parts: one job each (search, source, draft, listen, status, sync, settings,
policies), with its widgets and signals. See :mod:`desktop.gui.parts.base`."""
