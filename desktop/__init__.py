"""Deskmate: a local, grounded agent-assist desktop application.

Only the version lives here so that importing the package stays cheap.
"""

__version__ = "0.1.0"
APP_NAME = "Deskmate"
