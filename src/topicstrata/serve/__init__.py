"""The online prediction service behind ``strata serve`` (FastAPI).

See docs/serving.md. ``create_app(source, settings)`` builds the app for a run
directory, a model directory or a registered version; ``run_server`` runs it
with uvicorn.
"""

from topicstrata.serve.app import create_app
from topicstrata.serve.settings import ApiKeys, Limits, ServeSettings

__all__ = ["ApiKeys", "Limits", "ServeSettings", "create_app"]
