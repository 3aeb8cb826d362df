"""``strata studio``: a web UI over the run store, run directories and the registry.

See docs/studio.md. ``create_app(root, token)`` builds the FastAPI app;
``run_studio`` serves it with uvicorn.
"""

from topicstrata.studio.app import create_app
from topicstrata.studio.settings import StudioSettings

__all__ = ["StudioSettings", "create_app"]
