"""Without the sagemaker SDK the export says how to install it: no traceback."""

from __future__ import annotations

import subprocess
import sys

# The SDK's import fails as it does when the package is absent (None in sys.modules).
NO_SDK = "import sys; sys.modules['sagemaker'] = None; from topicstrata.cli import main; main()"


def test_the_export_without_the_sdk_says_how_to_install_it(tmp_path):
    done = subprocess.run(
        [sys.executable, "-c", NO_SDK, "pipeline", "export", "sagemaker",
         "--role", "arn:aws:iam::123456789012:role/SageMakerExecution",
         "--bucket", "s3://strata-bucket/runs", "--image", "topicstrata:0.1.0",
         "-o", str(tmp_path / "pipeline.json")],
        capture_output=True, text=True, timeout=120, cwd=tmp_path,
    )  # fmt: skip
    text = done.stdout + done.stderr
    assert done.returncode != 0
    assert "pip install 'topicstrata[sagemaker]'" in " ".join(text.split())
    assert "Traceback" not in text
    assert not (tmp_path / "pipeline.json").exists()
