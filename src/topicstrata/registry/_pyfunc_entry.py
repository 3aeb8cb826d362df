"""MLflow "model from code" entry point: logged with each registered version."""

from mlflow.models import set_model

from topicstrata.registry.pyfunc import TopicStrataPyfunc

set_model(TopicStrataPyfunc())
