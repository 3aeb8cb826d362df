"""The default topic pipeline, defined with the SDK: what ``strata fit`` and
``strata pipeline run`` execute.

::

    locate -> ingest -> preprocess -> embed -> layer_1 -> publish_1 -> review_1
      -> layer_2 -> publish_2 -> review_2 -> ... -> assemble -> evaluate -> write_run
      -> quality_gate -> register | fail

Each ``layer_n`` step accepts the reviewed mapping of layer n-1 and fits layer n,
one cached ``ctx.map`` item per topic it splits: editing one topic's mapping
refits only that topic's subtree. ``review_n`` pauses the run (status
``waiting``) until ``strata pipeline resume RUN --mapping FILE``, unless the
``auto_approve`` parameter is true (``strata fit`` sets it). Copy this module
to build your own variant.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from topicstrata.config import StrataConfig
from topicstrata.embed import Embedder, embed_sampled
from topicstrata.ensemble import Ensemble, EnsembleConfig
from topicstrata.ensemble.fit import describe_group, fans_out
from topicstrata.errors import InputError
from topicstrata.io import RowReport
from topicstrata.io.schema import EMBED_TEXT, KEYWORD_TOKENS
from topicstrata.mapping import Mapping, dump_mapping, load_mapping
from topicstrata.pipeline.context import StepContext
from topicstrata.pipeline.definition import Pipeline
from topicstrata.pipeline.params import (
    ParameterBoolean,
    ParameterDict,
    ParameterFloat,
    ParameterInteger,
    ParameterString,
)
from topicstrata.pipeline.steps import (
    CachePolicy,
    CallbackStep,
    ConditionStep,
    EvaluateStep,
    FailStep,
    ProcessingStep,
    RegisterModelStep,
    Resources,
    RetryPolicy,
    Step,
    TrainingStep,
    TuningStep,
)
from topicstrata.run import steps
from topicstrata.run.outputs import check_writable, write_run, writing

CPUS = float(os.cpu_count() or 1)
SECTIONS = ("ingest", "preprocess", "embed", "ensemble", "tune", "stability")
MAX_LAYERS = 5

# The code that decides each cached step's result (its cache key's code fingerprint;
# see docs/pipeline.md): so an edit of layers/ leaves ingest and embedding cached.
GLUE = ["topicstrata.config", "topicstrata.run.steps", "topicstrata.io.schema"]
FIT_CODE = [
    "topicstrata.fanout",
    "topicstrata.sampling",
    "topicstrata.threads",
    "topicstrata.ensemble",
    "topicstrata.layers",
    "topicstrata.mapping",
    "topicstrata.evaluate",
    "topicstrata.io.schema",
]


# --------------------------------------------------------------------------- steps
def locate(data: str, output: str) -> Path:
    """The input file; a Path output is fingerprinted by content, so edits rerun ingest.

    Also fails at once when the run directory cannot be written (read-only, full), not
    after the hours of work before ``write_run``."""
    path = Path(data)
    if not path.exists():
        raise InputError(f"{data}: no such file or folder; check the data path.")
    check_writable(Path(output))
    return path.resolve()


def config_sections(config: dict[str, Any]) -> dict[str, Any]:
    """Validate the whole config once and hand each step only its own section.

    Each section is its own artefact, so changing (say) the ensemble settings
    leaves ingest, preprocessing and embedding cached.
    """
    dumped = StrataConfig.from_dict(config).model_dump(mode="json")
    sections = {name: dumped[name] for name in SECTIONS if name != "stability"}
    ensemble = dumped["ensemble"]
    # The embed step's teacher covers layer 1's fit sample on large inputs: the two
    # numbers that draw it, and no other ensemble setting, enter the embed step's key.
    sampling = sections["embed"]["sampling"]
    if sampling.get("layer1_sample") is None:
        sampling["layer1_sample"] = [
            ensemble["layers"][0]["max_fit_samples"],
            ensemble["random_state"],
        ]
    # What layer-1 stability depends on, and nothing else.
    sections["stability"] = {
        "ensemble": {"layers": ensemble["layers"][:1], "random_state": ensemble["random_state"]},
        "sample": dumped["evaluate"]["stability_sample"],
    }
    return sections


def ingest_records(data: Path, ingest: dict[str, Any]) -> dict[str, Any]:
    result = steps.ingest(data, StrataConfig.from_dict({"ingest": ingest}).ingest_config())
    return {
        "table": result.table,
        "report": result.report,
        "text_cols": list(result.columns.text),
        # The layers need the ids only: a million records' table is ~2 GB in memory.
        "ids": steps.id_column(result.table),
    }


def make_text_views(
    table: pd.DataFrame, preprocess: dict[str, Any], cache_dir: str, ctx: StepContext
) -> pd.DataFrame:
    """The two text views; an empty ``cache_dir`` means no text cache."""
    cfg = StrataConfig.from_dict({"preprocess": preprocess})
    cache = Path(cache_dir) / "preprocess" if cache_dir else None
    workers = None
    if ctx.fanout == "ray":  # chunks of texts to a Ray Data actor pool of spaCy pipelines
        from topicstrata.pipeline.raydata import RayDataWorkers

        workers = RayDataWorkers
    views = steps.make_views(table, cfg.preprocess_config(), cache, ctx.progress, workers)
    return views.reset_index(drop=True)


def embed_records(
    views: pd.DataFrame, embed: dict[str, Any], cache_dir: str, ctx: StepContext
) -> dict[str, Any]:
    """Every record's vector; on large inputs the backend embeds a sample and a fitted
    student the rest (``embed.sampling``): ``teacher_rows`` says which rows the backend
    embedded, and every layer model learns from those first (then from student rows up
    to ``max_fit_samples``)."""
    cfg = StrataConfig.from_dict({"embed": embed})
    texts = views[EMBED_TEXT].tolist()
    embedder = steps.build_embedder(cfg.embed, texts)
    cache = Path(cache_dir) / "embeddings" if cache_dir else None
    encode_chunks = None
    if ctx.fanout == "ray":  # the embedder in a Ray Data actor pool
        from topicstrata.pipeline.raydata import RayDataEncoder

        encode_chunks = RayDataEncoder()
        ctx.log.info("embedding: texts to encode go through a Ray Data actor pool")
    result = embed_sampled(
        texts,
        embedder,
        cfg.embed.sampling,
        cache_dir=cache,
        batch_size=cfg.embed.batch_size,
        progress=ctx.progress,
        encode_chunks=encode_chunks,
    )
    ctx.log.info("embedding: %s", result.summary)
    return {
        "embeddings": result.vectors,
        "embedder": embedder,
        "teacher_rows": result.teacher_rows,
        "check": {"holdout": result.holdout, "summary": result.summary},
    }


def tune_ensemble(
    embeddings: NDArray[Any],
    views: pd.DataFrame,
    table: pd.DataFrame,
    ensemble: dict[str, Any],
    embed: dict[str, Any],
    tune: dict[str, Any],
    trials: int,
    labels: str,
    ctx: StepContext,
) -> dict[str, Any]:
    """The Tuning step: the ensemble settings with the lowest cross-validated loss.

    With ``trials=0`` (the default) the configured settings pass through
    unchanged. The study runs on a seeded sample of ``tune.sample`` records (as
    ``strata tune`` does). The embedding backend is the one the embed step used:
    ranking backends needs other embeddings, which ``strata tune`` computes.
    Parallel trials (``tune.n_jobs``, default the step's ``resources.cpus``) run
    as workers of this step's fan-out (``ctx.map``), so they go where the
    executor sends the step's work.
    """
    if trials <= 0:
        return ensemble
    from topicstrata.tune import TuneSettings
    from topicstrata.tune import tune as run_study
    from topicstrata.tune.data import sample_rows, tune_data_from_views

    base = StrataConfig.from_dict({"ensemble": ensemble, "embed": embed})
    label_cols = steps.label_columns(table, [c for c in labels.split(",") if c.strip()])
    defaults = {
        "storage": f"sqlite:///{Path(ctx.root) / '.strata' / 'optuna.db'}",
        "n_jobs": max(1, int(ctx.resources.cpus)),
    }
    settings = TuneSettings.from_dict({**defaults, **tune}).model_copy(update={"trials": trials})
    rows = sample_rows(len(table), settings.sample, settings.seed)
    if len(rows) < len(table):
        ctx.log.info("tuning on a sample of %d of %d records", len(rows), len(table))
    data = tune_data_from_views(table, views, rows, label_cols, embeddings, base.embed)
    space = settings.space
    if space is not None:
        space = space.model_copy(update={"embedders": [base.embed.backend]})
    else:
        from topicstrata.tune import default_space

        space = default_space(base).model_copy(update={"embedders": [base.embed.backend]})

    def executor_map(func: Any, items: Any) -> Any:
        return ctx.map(func, items, n_jobs=len(items), cache=False, task="tuning workers")

    result = run_study(
        data,
        base,
        settings.model_copy(update={"space": space}),
        ctx.progress,
        map_workers=executor_map,
    )
    ctx.log.info("tuned %d trials: best loss %.4f", result.n_new_trials, result.best_loss)
    return result.best_config.ensemble.model_dump(mode="json")


def read_mapping(mapping: str) -> Mapping | None:
    """The edited mapping given with ``--mapping``, read now (this step is never cached):
    its content, not its path, enters the layers' cache keys, so editing the file in
    place refits what the edit touches."""
    return load_mapping(mapping) if mapping else None


def _reviewed(mapping: Mapping | Path | str | None) -> Mapping | None:
    if mapping is None or isinstance(mapping, Mapping):
        return mapping
    return load_mapping(mapping)


def fit_layer(
    layer_no: int,
    state: Ensemble | None,
    reviewed: Mapping | Path | None,
    embeddings: NDArray[Any],
    teacher_rows: NDArray[Any],
    views: pd.DataFrame,
    ids: list[str],
    ensemble: dict[str, Any],
    mapping: Mapping | None,
    ctx: StepContext,
) -> dict[str, Any]:
    """Accept the reviewed mapping of layer n-1, then fit layer n (one cached item per topic).

    Every layer model learns from all of its ``teacher_rows`` and seeded random others up
    to ``max_fit_samples`` rows (as many as without sampling), and assigns the rest.
    """
    if state is None:
        state = Ensemble(EnsembleConfig.model_validate(ensemble)).begin(
            embeddings,
            views[KEYWORD_TOKENS].tolist(),
            ids,
            None,
            mapping,
            fit_rows=teacher_rows if len(teacher_rows) < len(embeddings) else None,
        )
    else:
        accepted = _reviewed(reviewed)
        assert accepted is not None
        state.accept_mapping(accepted, _rule_texts(accepted, views))

    def map_fn(func: Any, items: Any) -> dict[str, Any]:
        # Both maps are cached per topic; fans_out decides what is worth worker processes.
        # n_jobs -1: the step's cpus (one per core).
        jobs = state.config_.n_jobs if fans_out(func, items, state.config_) else 1
        task = f"layer {layer_no} {'keywords' if func is describe_group else 'topics'}"
        return ctx.map(func, items, n_jobs=None if jobs == -1 else jobs, task=task)

    draft = state.fit_layer(layer_no, embeddings, views[KEYWORD_TOKENS].tolist(), map_fn=map_fn)
    return {"state": state, "mapping": draft}


def _rule_texts(mapping: Mapping, views: pd.DataFrame) -> list[str] | None:
    """The texts the mapping's phrase rules match, or None without rules (a million
    texts as Python strings are ~0.5 GB)."""
    return views[EMBED_TEXT].tolist() if mapping.rules else None


def publish_mapping(mapping: Mapping, output: str) -> Path:
    """Write the draft mapping where a person can edit it (the review step points there)."""
    path = Path(output) / f"mapping.v{mapping.version}.draft.yaml"
    with writing(path.parent):
        path.parent.mkdir(parents=True, exist_ok=True)
        dump_mapping(mapping, path)
    return path


def assemble(state: Ensemble, reviewed: Mapping | Path, views: pd.DataFrame) -> Ensemble:
    accepted = _reviewed(reviewed)
    assert accepted is not None
    return state.accept_mapping(accepted, _rule_texts(accepted, views)).finish()


def measure_stability(
    embeddings: NDArray[Any], teacher_rows: NDArray[Any], settings: dict[str, Any]
) -> float | None:
    """Layer-1 stability across seeds, on a bounded sample of the teacher-embedded rows:
    its own step, so mapping edits keep it cached."""
    config = EnsembleConfig.model_validate(settings["ensemble"])
    vectors = np.asarray(embeddings)[np.asarray(teacher_rows, dtype=np.intp)]
    return steps.layer1_stability(vectors, config, int(settings["sample"]))


def evaluate_run(
    ensemble: Ensemble,
    table: pd.DataFrame,
    views: pd.DataFrame,
    labels: str,
    stability: float | None,
    embeddings: NDArray[Any],
    embed_check: dict[str, Any],
) -> dict[str, Any]:
    label_cols = steps.label_columns(table, [c for c in labels.split(",") if c.strip()])
    metrics = steps.evaluate(ensemble, table, views, label_cols)
    metrics["stability"] = stability
    metrics["label_cols"] = label_cols
    metrics["embedding"] = {
        **embed_check["summary"],
        **steps.student_agreement(ensemble, embeddings, embed_check["holdout"]),
    }
    return metrics


def write_run_directory(
    ensemble: Ensemble,
    table: pd.DataFrame,
    views: pd.DataFrame,
    report: RowReport,
    text_cols: list[str],
    embedder: Embedder,
    metrics: dict[str, Any],
    preprocess: dict[str, Any],
    embed: dict[str, Any],
    output: str,
) -> Path:
    cfg = StrataConfig.from_dict({"preprocess": preprocess, "embed": embed})
    predictor = steps.predictor_for(
        ensemble, embedder, cfg.embed, cfg.preprocess_config(), text_cols
    )
    write_run(
        output,
        table=table,
        report=report,
        ensemble=ensemble,
        predictor=predictor,
        metrics=metrics,
        views=views,
        label_cols=list(metrics.get("label_cols", [])),
    )
    return Path(output)


def quality_ok(metrics: dict[str, Any], min_npmi: float) -> bool:
    """The quality gate: NPMI of the leaf topics at least ``min_npmi``."""
    npmi = metrics.get("npmi")
    return npmi is None or npmi >= min_npmi


def register(run_dir: Path, model_name: str, config: dict[str, Any]) -> dict[str, Any]:
    """Log the run to MLflow and register its model (status pending); skipped without a name."""
    if not model_name:
        return {"registered": False}
    from topicstrata.registry import log_run, register_model

    run_id = log_run(run_dir, params=config)
    info = register_model(run_dir, model_name, run_id=run_id)
    return {"registered": True, "name": info.name, "version": info.version, "run_id": run_id}


# ------------------------------------------------------------------------ pipeline
def build_pipeline(n_layers: int = 3) -> Pipeline:
    """The default topic pipeline with ``n_layers`` layers (and review points)."""
    if not 1 <= n_layers <= MAX_LAYERS:
        raise InputError(f"n_layers={n_layers}: the default pipeline supports 1..{MAX_LAYERS}.")
    data = ParameterString("data", default="", description="Records file or Salesforce export.")
    output = ParameterString("output", default="run", description="Run directory to write.")
    config = ParameterDict(
        "config", default=StrataConfig().model_dump(mode="json"), description="StrataConfig."
    )
    mapping = ParameterString("mapping", default="", description="Edited mapping to apply.")
    labels = ParameterString("labels", default="", description="Label columns, coarsest first.")
    cache_dir = ParameterString(
        "cache_dir", default=".strata/cache", description="Text caches ('': none)."
    )
    auto_approve = ParameterBoolean("auto_approve", default=False, description="Skip reviews.")
    min_npmi = ParameterFloat("min_npmi", default=-1.0, description="Quality gate on NPMI.")
    model_name = ParameterString("model_name", default="", description="Register under name.")
    tune_trials = ParameterInteger("tune_trials", default=0, description="Tuning trials (0: off).")

    where = ProcessingStep(
        "locate", locate, {"data": data, "output": output}, cache=CachePolicy(enabled=False)
    )
    sections = ProcessingStep("config", config_sections, {"config": config}, outputs=SECTIONS)
    given = ProcessingStep(
        "read_mapping",
        read_mapping,
        {"mapping": mapping},
        cache=CachePolicy(enabled=False),
        code_deps=["topicstrata.mapping"],
    )
    ingest = ProcessingStep(
        "ingest",
        ingest_records,
        {"data": where.output(), "ingest": sections.output("ingest")},
        outputs=("table", "report", "text_cols", "ids"),
        retry=RetryPolicy(attempts=2, backoff=1.0, exceptions=(OSError,)),
        code_deps=["topicstrata.io", *GLUE],
    )
    prep = ProcessingStep(
        "preprocess",
        make_text_views,
        {
            "table": ingest.outputs.table,
            "preprocess": sections.output("preprocess"),
            "cache_dir": cache_dir,
        },
        resources=Resources(cpus=CPUS, memory="4GB"),
        requirements=["spacy"],
        code_deps=["topicstrata.preprocess", *GLUE],
    )
    embed = ProcessingStep(
        "embed",
        embed_records,
        {"views": prep.output(), "embed": sections.output("embed"), "cache_dir": cache_dir},
        outputs=("embeddings", "embedder", "teacher_rows", "check"),
        resources=Resources(cpus=CPUS, memory="4GB"),
        requirements=["onnxruntime", "sentence_transformers"],
        code_deps=["topicstrata.embed", "topicstrata.fanout", "topicstrata.sampling", *GLUE],
    )
    tuned = TuningStep(
        "tune",
        tune_ensemble,
        {
            "embeddings": embed.outputs.embeddings,
            "views": prep.output(),
            "table": ingest.outputs.table,
            "ensemble": sections.output("ensemble"),
            "embed": sections.output("embed"),
            "tune": sections.output("tune"),
            "trials": tune_trials,
            "labels": labels,
        },
        resources=Resources(cpus=CPUS, memory="8GB"),
        requirements=["optuna"],
        code_deps=["topicstrata.tune", "topicstrata.embed", *FIT_CODE, *GLUE],
    )
    chain: list[Step] = [where, sections, given, ingest, prep, embed, tuned]
    state: Any = None
    reviewed: Any = None
    for layer_no in range(1, n_layers + 1):
        layer = TrainingStep(
            f"layer_{layer_no}",
            fit_layer,
            {
                "layer_no": layer_no,
                "state": state,
                "reviewed": reviewed,
                "embeddings": embed.outputs.embeddings,
                "teacher_rows": embed.outputs.teacher_rows,
                "views": prep.output(),
                "ids": ingest.outputs.ids,
                "ensemble": tuned.output(),
                "mapping": given.output(),
            },
            outputs=("state", "mapping"),
            resources=Resources(cpus=CPUS, memory="8GB"),
            requirements=["umap"],
            code_deps=FIT_CODE,
        )
        publish = ProcessingStep(
            f"publish_{layer_no}",
            publish_mapping,
            {"mapping": layer.outputs.mapping, "output": output},
            cache=CachePolicy(enabled=False),
        )
        # The review passes the draft Mapping itself (content-addressed) when approved,
        # so an unchanged rerun into another output folder still hits the cache.
        review = CallbackStep(
            f"review_{layer_no}",
            {"mapping": layer.outputs.mapping},
            message=(
                f"Review layer {layer_no}: edit mapping.v{layer_no}.draft.yaml in the run "
                "directory, then `strata pipeline resume RUN --mapping FILE` (give the draft "
                "itself as FILE to approve it as is)."
            ),
            auto_approve=auto_approve,
            depends_on=[publish],
        )
        chain += [layer, publish, review]
        state, reviewed = layer.outputs.state, review.output()
    final = TrainingStep(
        "assemble",
        assemble,
        {"state": state, "reviewed": reviewed, "views": prep.output()},
        code_deps=FIT_CODE,
    )
    stable = EvaluateStep(
        "stability",
        measure_stability,
        {
            "embeddings": embed.outputs.embeddings,
            "teacher_rows": embed.outputs.teacher_rows,
            "settings": sections.output("stability"),
        },
        code_deps=[
            "topicstrata.layers",
            "topicstrata.ensemble",
            "topicstrata.sampling",
            "topicstrata.threads",
            *GLUE,
        ],
    )
    scores = EvaluateStep(
        "evaluate",
        evaluate_run,
        {
            "ensemble": final.output(),
            "table": ingest.outputs.table,
            "views": prep.output(),
            "labels": labels,
            "stability": stable.output(),
            "embeddings": embed.outputs.embeddings,
            "embed_check": embed.outputs.check,
        },
        code_deps=[*FIT_CODE, *GLUE],
    )
    written = ProcessingStep(
        "write_run",
        write_run_directory,
        {
            "ensemble": final.output(),
            "table": ingest.outputs.table,
            "views": prep.output(),
            "report": ingest.outputs.report,
            "text_cols": ingest.outputs.text_cols,
            "embedder": embed.outputs.embedder,
            "metrics": scores.output(),
            "preprocess": sections.output("preprocess"),
            "embed": sections.output("embed"),
            "output": output,
        },
        cache=CachePolicy(enabled=False),
    )
    registered = RegisterModelStep(
        "register",
        register,
        {"run_dir": written.output(), "model_name": model_name, "config": config},
        cache=CachePolicy(enabled=False),
    )
    failed = FailStep(
        "fail",
        message="quality gate: leaf-topic NPMI is below min_npmi={min_npmi}; not registered.",
        inputs={"min_npmi": min_npmi},
    )
    gate = ConditionStep(
        "quality_gate",
        quality_ok,
        {"metrics": scores.output(), "min_npmi": min_npmi},
        if_steps=[registered],
        else_steps=[failed],
        code_deps=[],
    )
    return Pipeline(
        "topicstrata",
        [
            data,
            output,
            config,
            mapping,
            labels,
            cache_dir,
            auto_approve,
            min_npmi,
            model_name,
            tune_trials,
        ],
        [*chain, final, stable, scores, written, gate],
        factory=f"topicstrata.pipeline.topic:build_{n_layers}_layer_pipeline",
        description="Ingest, preprocess, embed, fit each layer with a review, evaluate, register.",
    )


def build_1_layer_pipeline() -> Pipeline:
    return build_pipeline(1)


def build_2_layer_pipeline() -> Pipeline:
    return build_pipeline(2)


def build_3_layer_pipeline() -> Pipeline:
    return build_pipeline(3)


def build_4_layer_pipeline() -> Pipeline:
    return build_pipeline(4)


def build_5_layer_pipeline() -> Pipeline:
    return build_pipeline(5)
