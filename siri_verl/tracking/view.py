"""What a researcher sees in ``mlflow ui``: the experiment opens on SIRI's columns and charts.

Every experiment this project logs to carries three experiment tags (:func:`experiment_tags`):

* ``mlflow.experimentKind`` = ``custom_model_development``: MLflow's "Model training" kind;
* ``mlflow.sharedViewState.siri_verl`` (:data:`VIEW_KEY`): a saved view of the experiment page in
  MLflow's own format (the JSON its "Share" button stores: the page's search facets and UI state,
  read by the UI from ``?viewStateShareKey=siri_verl``; MLflow 3.17's ``useSharedExperimentViewState``
  picks ``selectedColumns``, ``compareRunCharts``, ``compareRunSections``, ``isAccordionReordered``...
  from it). Its columns: validation accuracy and tokens per benchmark, training accuracy, response
  length, truncation, the schedule's settings; its first chart section ("SIRI") overlays L(t)
  (``siri/max_response_length``) with the mean, p90 and correct-response length, then accuracy,
  truncation with zero-variance groups and an accuracy-vs-tokens scatter per benchmark; an
  "InftyThink+" section (segments per trajectory, per-call context, stop reasons) joins once an
  InftyThink+ run has. MLflow adds its own generated sections for every other metric after these;
* ``mlflow.note.content``: the experiment's description (:data:`EXPERIMENT_NOTE`).

MLflow 3.17 chooses between its GenAI and Model training pages from the URL's ``workflowType``
or the browser's storage, not from ``mlflow.experimentKind`` (its feature flag for workflow
navigation is on), so every link the project prints carries both ``workflowType=machine_learning``
and the view's key (:func:`experiment_url`). MLflow 3.18.0, the newest release when this was
written, reads the mode the same way (its UI bundle checked); the tag is set for the versions and
tools that read it.

A view lists concrete metric names, and verl's validation names carry the benchmark and n
(``val-core/<benchmark>/acc/mean_at_<n>``): :func:`update_view` merges a run's benchmarks into the
experiment's view, once when the run opens (predicted from the config, :func:`benchmarks_of`) and
once when it ends (read from the metrics it logged, :func:`benchmarks_in_metrics`).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

from omegaconf import DictConfig, OmegaConf

VIEW_KEY = "siri_verl"
VIEW_TAG = f"mlflow.sharedViewState.{VIEW_KEY}"
KIND_TAG = "mlflow.experimentKind"
MODEL_TRAINING_KIND = "custom_model_development"  # MLflow's ExperimentKind for "Model training"
NOTE_TAG = "mlflow.note.content"
# Where ``mlflow ui`` serves by default.
DEFAULT_UI = "http://127.0.0.1:5000"

EXPERIMENT_NOTE = """\
Runs of [siri-verl](https://github.com/siri-verl/siri-verl): GRPO with SIRI's cyclic cap L(t) on the
response length (responses over the step's cap score 0), and InftyThink+ iterative reasoning.

* **Columns** (saved view `siri_verl`): validation accuracy and mean tokens per benchmark
  (`val-core/<benchmark>/acc/mean_at_<n>`, `val-aux/<benchmark>/response_tokens/mean_at_<n>`), eval runs'
  `eval/<benchmark>/acc` and `mean_tokens`, training accuracy, response length, truncation rate and the
  schedule's settings (`schedule/*` params).
* **Charts** (chart view): L(t) against the mean, p90 and correct-response length; accuracy; truncation
  and zero-variance GRPO groups; accuracy vs tokens; for InftyThink+ runs segments per trajectory,
  per-call context and stop reasons.
* **Each run**: its description holds the recipe, the schedule and the before -> after figures;
  `config.yaml` the whole composed config; `pareto/` its accuracy-vs-tokens point.
"""

# Metric names the view shows (SIRI's collector, verl's, this project's health and reward metrics).
CAP = "siri/max_response_length"
LENGTHS = ("siri/response_length/mean", "siri/response_length/p90", "siri/correct_response_length/mean")
TRAIN_ACCURACY = "reward/accuracy"
TRUNCATION = "siri/truncation_rate"
ZERO_VARIANCE = "health/zero_variance_groups"
VERL_LENGTH = "response_length/mean"
SEGMENTS = ("inftythink/segments/mean", "inftythink/segments/max", "inftythink/max_segments")
CONTEXT = ("prompt_length/mean", "prompt_length/max", "inftythink/segment_tokens/mean", "inftythink/segment_cap")
STOPS = (
    "inftythink/stopped_by_segment_cap_rate",
    "inftythink/stopped_by_max_segments_rate",
    "inftythink/stopped_by_context_full_rate",
    "inftythink/invalid_format_rate",
)
SCHEDULE_PARAMS = ("schedule/shape", "schedule/l_max", "schedule/l_min", "schedule/period")
INFTYTHINK_PARAMS = ("inftythink/segment_cap", "inftythink/max_segments", "inftythink/reward_variant")

_VAL_ACC = re.compile(r"val-core/(.+)/acc/mean_at_(\d+)$")


@dataclass(frozen=True, order=True)
class Benchmark:
    """One validation data source and its samples per problem (verl's ``mean@n``)."""

    name: str
    n: int

    @property
    def accuracy(self) -> str:
        return f"val-core/{self.name}/acc/mean_at_{self.n}"

    @property
    def tokens(self) -> str:
        return f"val-aux/{self.name}/response_tokens/mean_at_{self.n}"


def benchmarks_in_metrics(keys) -> list[Benchmark]:
    """The benchmarks whose validation accuracy is among the metric names ``keys``."""
    return sorted({Benchmark(m.group(1), int(m.group(2))) for key in keys if (m := _VAL_ACC.fullmatch(key))})


def benchmarks_of(cfg: DictConfig) -> list[Benchmark]:
    """The benchmarks a training config will validate on: the ``data_source`` values of
    ``data.val_files`` (parquet) at ``rollout.val_kwargs.n``; none where a file cannot be read."""
    import pyarrow.parquet as pq

    files = OmegaConf.select(cfg, "data.val_files", default=None)
    n = int(OmegaConf.select(cfg, "actor_rollout_ref.rollout.val_kwargs.n", default=1) or 1)
    if files is None:
        return []
    names: set[str] = set()
    for path in [files] if isinstance(files, str) else list(files):
        try:
            names.update(map(str, pq.read_table(str(path), columns=["data_source"]).column(0).unique().to_pylist()))
        except Exception:  # a view is a convenience: a file it cannot read only leaves its columns out
            continue
    return sorted(Benchmark(name, n) for name in names)


# -- MLflow's experiment-page state --------------------------------------------------------


def _column(kind: str, key: str) -> str:
    """A runs-table column as MLflow names it (``makeCanonicalSortKey``): ``metrics.`key```."""
    return f"{kind}.`{key}`"


def _line(uuid: str, section: str, title: str, keys: tuple[str, ...] | list[str]) -> dict:
    """A line chart card of several metrics against the step (MLflow's ``RunsChartsLineCardConfig``)."""
    return {
        "type": "LINE", "uuid": uuid, "metricSectionId": section, "displayName": title,
        "deleted": False, "isGenerated": False, "runsCountToCompare": 10,
        "metricKey": keys[0], "selectedMetricKeys": list(keys),
        "lineSmoothness": 0, "xAxisKey": "step", "xAxisScaleType": "linear", "scaleType": "linear",
        "selectedXAxisMetricKey": "", "yAxisKey": "metric", "yAxisExpressions": [], "ignoreOutliers": False,
        "useGlobalXaxisKey": True, "useGlobalLineSmoothing": True, "range": {},
    }  # fmt: skip


def _scatter(uuid: str, section: str, title: str, x: str, y: str) -> dict:
    """A scatter card, one point per run (MLflow's ``RunsChartsScatterCardConfig``)."""
    return {
        "type": "SCATTER", "uuid": uuid, "metricSectionId": section, "displayName": title,
        "deleted": False, "isGenerated": False, "runsCountToCompare": 100,
        "xaxis": {"key": x, "type": "METRIC"}, "yaxis": {"key": y, "type": "METRIC"},
    }  # fmt: skip


def _section(uuid: str, name: str) -> dict:
    return {"uuid": uuid, "name": name, "display": True, "isReordered": True, "deleted": False, "isGenerated": False}


def view_state(benchmarks: list[Benchmark], inftythink: bool) -> dict:
    """The saved view's JSON object for these benchmarks (and the InftyThink+ section if asked)."""
    columns = [_column("metrics", key) for b in benchmarks for key in (b.accuracy, b.tokens)]
    columns += [_column("metrics", key) for key in (TRAIN_ACCURACY, LENGTHS[0], VERL_LENGTH, TRUNCATION, CAP)]
    columns += [_column("params", key) for key in ("recipe", *SCHEDULE_PARAMS)]
    if inftythink:
        columns += [_column("metrics", SEGMENTS[0])] + [_column("params", key) for key in INFTYTHINK_PARAMS]
    sections = [_section("siri_verl-siri", "SIRI")]
    charts = [
        _line("siri_verl-cap", "siri_verl-siri", "L(t) and response length", (CAP, *LENGTHS)),
        _line("siri_verl-accuracy", "siri_verl-siri", "accuracy",
              (TRAIN_ACCURACY, *(b.accuracy for b in benchmarks))),  # fmt: skip
        _line("siri_verl-truncation", "siri_verl-siri", "truncation and zero-variance groups", (TRUNCATION, ZERO_VARIANCE)),
    ]
    charts += [
        _scatter(f"siri_verl-pareto-{b.name}-{b.n}", "siri_verl-siri", f"{b.name}: accuracy vs tokens", b.tokens, b.accuracy)
        for b in benchmarks
    ]
    if inftythink:
        sections.append(_section("siri_verl-inftythink", "InftyThink+"))
        charts += [
            _line("siri_verl-segments", "siri_verl-inftythink", "segments per trajectory", SEGMENTS),
            _line("siri_verl-context", "siri_verl-inftythink", "per-call context and tokens per segment", CONTEXT),
            _line("siri_verl-stops", "siri_verl-inftythink", "stop reasons (rest: concluded)", STOPS),
        ]
    return {
        "selectedColumns": columns,
        "columnOrder": columns,  # as listed (MLflow orders metric columns by name otherwise)
        "compareRunCharts": charts,
        "compareRunSections": sections,
        "isAccordionReordered": True,  # keep these sections first (MLflow sorts them by name otherwise)
        "hideEmptyCharts": True,
    }


def parse_view(value: str | None) -> tuple[list[Benchmark], bool]:
    """The benchmarks and InftyThink+ flag of a saved view written by :func:`view_state`."""
    try:
        state = json.loads(value or "{}")
    except ValueError:
        return [], False
    columns = [c[len("metrics.`") : -1] for c in state.get("selectedColumns", []) if c.startswith("metrics.`")]
    sections = {section.get("name") for section in state.get("compareRunSections", [])}
    return benchmarks_in_metrics(columns), "InftyThink+" in sections


def experiment_tags(benchmarks: list[Benchmark] = (), inftythink: bool = False) -> dict[str, str]:
    return {
        KIND_TAG: MODEL_TRAINING_KIND,
        NOTE_TAG: EXPERIMENT_NOTE,
        VIEW_TAG: json.dumps(view_state(list(benchmarks), inftythink), separators=(",", ":")),
    }


def update_view(client, experiment_id: str, benchmarks: list[Benchmark] = (), inftythink: bool = False) -> None:
    """Set the experiment's tags, its view covering ``benchmarks`` and the ones it already had."""
    tags = client.get_experiment(experiment_id).tags
    known, had_inftythink = parse_view(tags.get(VIEW_TAG))
    wanted = experiment_tags(sorted(set(known) | set(benchmarks)), inftythink or had_inftythink)
    for key, value in wanted.items():
        if tags.get(key) != value:
            client.set_experiment_tag(experiment_id, key, value)


def experiment_url(experiment_id: str, ui: str = DEFAULT_UI, charts: bool = False) -> str:
    """The experiment's runs in ``mlflow ui``: Model training mode, the saved view, the table or
    (``charts``) the chart view."""
    query = f"workflowType=machine_learning&viewStateShareKey={VIEW_KEY}" + ("&compareRunsMode=CHART" if charts else "")
    return f"{ui}/#/experiments/{experiment_id}/runs?{query}"
