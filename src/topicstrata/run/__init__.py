"""The plain functions behind a fit (``steps``) and the run directory it writes.

``topicstrata.run_fit`` runs them as the default pipeline
(``topicstrata.pipeline.fit``).
"""

from topicstrata.run.outputs import write_run

__all__ = ["write_run"]
