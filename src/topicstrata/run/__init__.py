"""One fit from a records file to a run directory, as plain steps and a driver."""

from topicstrata.run.fit import FitResult, run_fit
from topicstrata.run.outputs import write_run

__all__ = ["FitResult", "run_fit", "write_run"]
