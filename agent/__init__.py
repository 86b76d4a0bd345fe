"""persona-agent: grounded persona synthesis from interviews, tickets and usage data.

The library API; the CLI and the skill use only what is exported here.
"""

from .config import Settings, load_settings
from .errors import PersonaError
from .ingest import ingest
from .search import search
from .workspace import Workspace

__all__ = ["PersonaError", "Settings", "Workspace", "ingest", "load_settings", "search"]
__version__ = "0.1.0"
