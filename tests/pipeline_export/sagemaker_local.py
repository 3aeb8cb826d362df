"""Run an exported SageMaker Pipelines definition here, as SageMaker would, one job at a time.

Each job gets a fresh ``opt/ml`` folder holding only what its definition mounts (its
inputs downloaded from a folder standing in for S3), runs in a fresh process with that
folder as its working directory, and is deleted after its outputs are uploaded: a step
can only read what earlier steps uploaded. Processing jobs run their ``ContainerEntrypoint``
(``strata ...``) with the ``ContainerArguments``; training jobs run what the image's
``train`` command runs (the Dockerfile's entry script); a tuning step runs some trials,
reads each one's objective from its output with the definition's metric regex, and keeps
the best. Callback steps are answered by ``answer``; conditions are evaluated from
property files.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import tarfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

STRATA = "from topicstrata.cli import main; main()"
TRAIN = ["-m", "topicstrata.pipeline.stepdirs"]  # the Dockerfile's `train` command


@dataclass
class Trial:
    job: str
    hyperparameters: dict[str, str]
    stdout: str
    objective: float | None


@dataclass
class LocalSageMaker:
    """A fake S3 (``root/s3``), the pipeline parameters and the steps' properties."""

    root: Path
    parameters: dict[str, Any]
    answer: Callable[[LocalSageMaker, dict[str, Any]], str]
    trial_points: Callable[[dict[str, Any]], list[dict[str, str]]]
    timeout: float = 300
    props: dict[str, Any] = field(default_factory=dict)
    ran: list[str] = field(default_factory=list)
    trials: list[Trial] = field(default_factory=list)
    branch: list[str] = field(default_factory=list)

    # fake S3 -----------------------------------------------------------------
    def s3(self, uri: str) -> Path:
        assert uri.startswith("s3://"), uri
        return self.root / "s3" / uri[len("s3://") :]

    def upload(self, local: Path, uri: str) -> None:
        target = self.s3(uri)
        target.parent.mkdir(parents=True, exist_ok=True)
        if local.is_dir():
            shutil.copytree(local, target, dirs_exist_ok=True)
        else:
            shutil.copy2(local, target)

    def download(self, uri: str, local: Path) -> None:
        """An S3Prefix input: one object lands as local/NAME, a prefix's objects below local."""
        source = self.s3(uri)
        local.mkdir(parents=True, exist_ok=True)
        if source.is_file():
            shutil.copy2(source, local / source.name)
        elif source.is_dir():
            shutil.copytree(source, local, dirs_exist_ok=True)
        else:
            raise AssertionError(f"nothing in S3 at {uri}")

    # expressions ---------------------------------------------------------------
    def value(self, expr: Any) -> Any:
        if isinstance(expr, dict) and "Get" in expr:
            key = expr["Get"]
            if key.startswith("Parameters."):
                return self.parameters[key[len("Parameters.") :]]
            assert key in self.props, f"{key} is read before any step set it"
            return self.props[key]
        if isinstance(expr, dict) and "Std:Join" in expr:
            join = expr["Std:Join"]
            return join["On"].join(_text(self.value(v)) for v in join["Values"])
        if isinstance(expr, dict) and "Std:JsonGet" in expr:
            get = expr["Std:JsonGet"]
            uri, path = self.value(get["PropertyFile"])
            document = json.loads(self.s3(f"{uri}/{path}").read_text(encoding="utf-8"))
            for part in get["Path"].split("."):
                document = document[part]
            return document
        return expr

    # jobs --------------------------------------------------------------------
    def _job(self, name: str) -> tuple[Path, Path]:
        job = self.root / "jobs" / name
        assert not job.exists(), f"job {name} ran twice"
        (job / "opt" / "ml").mkdir(parents=True)
        return job, job / "opt" / "ml"

    def _run(self, argv: list[str], cwd: Path, env: Mapping[str, str] = {}) -> str:
        done = subprocess.run(
            [sys.executable, *argv], cwd=cwd, capture_output=True, text=True,
            timeout=self.timeout, env={**_base_env(), **env},
        )  # fmt: skip
        assert done.returncode == 0, f"{argv}\n{done.stdout}\n{done.stderr}"
        return done.stdout

    def processing(self, step: dict[str, Any]) -> None:
        name, args = step["Name"], step["Arguments"]
        job, opt_ml = self._job(name)

        def here(text: str) -> str:
            return text.replace("/opt/ml/", f"{opt_ml}/")

        for item in args.get("ProcessingInputs", []):
            s3 = item["S3Input"]
            assert s3["S3DataType"] == "S3Prefix" and s3["S3InputMode"] == "File"
            self.download(self.value(s3["S3Uri"]), Path(here(s3["LocalPath"])))
        outputs = args["ProcessingOutputConfig"]["Outputs"]
        for item in outputs:
            Path(here(item["S3Output"]["LocalPath"])).mkdir(parents=True, exist_ok=True)
        app = args["AppSpecification"]
        entry = app["ContainerEntrypoint"]
        assert entry[0] == "strata", entry
        argv = [here(_text(self.value(a))) for a in app.get("ContainerArguments", [])]
        self._run(["-c", STRATA, *entry[1:], *argv], cwd=job)
        for item in outputs:
            uri = self.value(item["S3Output"]["S3Uri"])
            self.upload(Path(here(item["S3Output"]["LocalPath"])), uri)
            key = f"Steps.{name}.ProcessingOutputConfig.Outputs['{item['OutputName']}']"
            self.props[f"{key}.S3Output.S3Uri"] = uri
            for pf in step.get("PropertyFiles", []):
                if pf["OutputName"] == item["OutputName"]:
                    prop = f"Steps.{name}.PropertyFiles.{pf['PropertyFileName']}"
                    self.props[prop] = (uri, pf["FilePath"])
        shutil.rmtree(job)

    def _training_job(
        self, job_name: str, hyper: dict[str, str], channels: list[dict[str, Any]], out: str
    ) -> tuple[str, str]:
        job, opt_ml = self._job(job_name)
        config = opt_ml / "input" / "config"
        config.mkdir(parents=True)
        (config / "hyperparameters.json").write_text(json.dumps(hyper), encoding="utf-8")
        for channel in channels:
            source = channel["DataSource"]["S3DataSource"]
            assert source["S3DataType"] == "S3Prefix"
            uri = self.value(source["S3Uri"])
            self.download(uri, opt_ml / "input" / "data" / channel["ChannelName"])
        (opt_ml / "model").mkdir()
        stdout = self._run(TRAIN, cwd=job, env={"STRATA_OPT_ML": str(opt_ml)})
        packed = job / "model.tar.gz"
        with tarfile.open(packed, "w:gz") as tar:
            for item in sorted((opt_ml / "model").iterdir()):
                tar.add(item, arcname=item.name)
        uri = f"{out.rstrip('/')}/{job_name}/output/model.tar.gz"
        self.upload(packed, uri)
        shutil.rmtree(job)
        return uri, stdout

    def training(self, step: dict[str, Any]) -> None:
        name, args = step["Name"], step["Arguments"]
        assert "ContainerEntrypoint" not in args["AlgorithmSpecification"]
        hyper = {k: _text(self.value(v)) for k, v in args.get("HyperParameters", {}).items()}
        uri, _ = self._training_job(
            f"{name}-job", hyper, args.get("InputDataConfig", []),
            args["OutputDataConfig"]["S3OutputPath"],
        )  # fmt: skip
        self.props[f"Steps.{name}.ModelArtifacts.S3ModelArtifacts"] = uri

    def tuning(self, step: dict[str, Any]) -> None:
        name, args = step["Name"], step["Arguments"]
        config, definition = args["HyperParameterTuningJobConfig"], args["TrainingJobDefinition"]
        objective = config["HyperParameterTuningJobObjective"]
        metric = next(
            m
            for m in definition["AlgorithmSpecification"]["MetricDefinitions"]
            if m["Name"] == objective["MetricName"]
        )
        static = {k: _text(self.value(v)) for k, v in definition["StaticHyperParameters"].items()}
        static["_tuning_objective_metric"] = objective["MetricName"]  # SageMaker adds it
        for i, point in enumerate(self.trial_points(config["ParameterRanges"])):
            job = f"{name}-trial-{i:03d}"
            _, stdout = self._training_job(
                job, {**static, **point}, definition.get("InputDataConfig", []),
                definition["OutputDataConfig"]["S3OutputPath"],
            )  # fmt: skip
            found = re.findall(metric["Regex"], stdout)
            value = float(found[-1]) if found else None
            self.trials.append(Trial(job, {**static, **point}, stdout, value))
        scored = [t for t in self.trials if t.objective is not None]
        assert scored, "no trial printed the objective metric"
        sign = 1 if objective["Type"] == "Minimize" else -1
        best = min(scored, key=lambda t: sign * (t.objective or 0.0))
        self.props[f"Steps.{name}.TrainingJobSummaries[0].TrainingJobName"] = best.job

    def callback(self, step: dict[str, Any]) -> None:
        uri = self.answer(self, step)
        for item in step.get("OutputParameters", []):
            self.props[f"Steps.{step['Name']}.OutputParameters['{item['OutputName']}']"] = uri

    def condition(self, step: dict[str, Any]) -> None:
        args = step["Arguments"]
        holds = all(self._holds(c) for c in args["Conditions"])
        self.branch.append("if" if holds else "else")
        for sub in args["IfSteps"] if holds else args["ElseSteps"]:
            self.step(sub)

    def _holds(self, condition: dict[str, Any]) -> bool:
        left, right = self.value(condition["LeftValue"]), self.value(condition["RightValue"])
        tests = {
            "GreaterThanOrEqualTo": lambda: float(left) >= float(right),
            "GreaterThan": lambda: float(left) > float(right),
            "LessThanOrEqualTo": lambda: float(left) <= float(right),
            "LessThan": lambda: float(left) < float(right),
            "Equals": lambda: left == right,
        }
        return bool(tests[condition["Type"]]())

    def step(self, step: dict[str, Any]) -> None:
        kind = step["Type"]
        if kind == "Fail":
            raise AssertionError(f"the pipeline failed: {self.value(step['Arguments'])}")
        if kind != "RegisterModel":  # SageMaker registers; no container runs
            {
                "Processing": self.processing,
                "Training": self.training,
                "Tuning": self.tuning,
                "Callback": self.callback,
                "Condition": self.condition,
            }[kind](step)
        self.ran.append(step["Name"])

    def execute(self, definition: dict[str, Any]) -> None:
        for step in definition["Steps"]:
            self.step(step)


def parameter_defaults(definition: dict[str, Any]) -> dict[str, Any]:
    return {p["Name"]: p.get("DefaultValue") for p in definition["Parameters"]}


def _text(value: Any) -> str:
    """A value as SageMaker renders it into a string (hyperparameters, joins)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _base_env() -> dict[str, str]:
    import os

    keep = ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "HF_HOME", "VIRTUAL_ENV")
    env = {k: v for k, v in os.environ.items() if k in keep}
    return {**env, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
