"""Churn risk: a logistic regression trained on the workspace's own history, scoring every mailable subscriber.

What churn means here: within `HORIZON_DAYS` a subscriber left (unsubscribed, complained, hard-bounced) or
went silent (had opened or clicked in the 90 days before, and did not open or click again).

Training looks back one horizon: features are read as they stood at `cutoff = now - HORIZON_DAYS`, the label
from what happened since. Up to `SAMPLE` subscribers who were on a list and mailable at the cutoff are drawn,
`HELD_OUT` of them (stratified) are kept aside, and the model's AUC on those is stored beside it. Scoring reads
the same features as they stand now, in SQL, with the stored weights: no subscriber row leaves the database.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler

from app.db.intelligence import ChurnModel
from app.services.sqlparams import Params, fetch
from app.services.tenancy import checked_workspace_id, owned_by

HORIZON_DAYS = 30
SAMPLE = 50_000
HELD_OUT = 0.3
# Fewer churned (or staying) subscribers than this in the sample and there is nothing to learn from.
MIN_PER_CLASS = 20
SCORE_CHUNK = 10_000
LEFT_STATUSES = ("unsubscribed", "complained", "bounced")


@dataclass(frozen=True)
class Feature:
    name: str
    label: str
    sql: str  # over `s` (subscribers), `ev` (the engagement lateral) and `{m}` (the moment read at)


FEATURES: tuple[Feature, ...] = (
    Feature("tenure_days", "Days on the list", "least(extract(epoch FROM {m} - s.created_at) / 86400, 730)"),
    Feature("days_since_engaged", "Days since the last open or click",
            "coalesce(least(extract(epoch FROM {m} - ev.last_engaged) / 86400, 180), 180)"),
    Feature("opens_30", "Opens in the last 30 days (log)", "ln(1 + ev.opens_30)"),
    Feature("opens_90", "Opens in the last 90 days (log)", "ln(1 + ev.opens_90)"),
    Feature("clicks_90", "Clicks in the last 90 days (log)", "ln(1 + ev.clicks_90)"),
)


def _engagement_lateral(moment: str) -> str:
    """A subscriber's human opens and clicks in the 180 days before `moment` (the events index per subscriber)."""
    return (
        "CROSS JOIN LATERAL (SELECT max(e.occurred_at) AS last_engaged, "
        f"count(*) FILTER (WHERE e.kind = 'open' AND e.occurred_at >= {moment} - interval '30 days') AS opens_30, "
        f"count(*) FILTER (WHERE e.kind = 'open' AND e.occurred_at >= {moment} - interval '90 days') AS opens_90, "
        f"count(*) FILTER (WHERE e.kind = 'click' AND e.occurred_at >= {moment} - interval '90 days') AS clicks_90 "
        "FROM events e WHERE e.subscriber_id = s.id AND e.workspace_id = s.workspace_id "
        f"AND e.kind IN ('open', 'click') AND e.occurred_at >= {moment} - interval '180 days' "
        f"AND e.occurred_at < {moment}) ev"
    )


def _feature_columns(moment: str) -> str:
    return ", ".join(f"({feature.sql.format(m=moment)})::float8 AS {feature.name}" for feature in FEATURES)


async def training_rows(workspace_id: int, now: datetime) -> list[dict[str, Any]]:
    """The sample: features at the cutoff and whether each subscriber churned since, ordered by id."""
    params = Params()
    workspace = params.add(checked_workspace_id(workspace_id))
    cutoff = params.add(now - timedelta(days=HORIZON_DAYS))
    until = params.add(now)
    left = params.add(list(LEFT_STATUSES))
    left_before = (f"EXISTS (SELECT 1 FROM subscriber_status_changes c WHERE c.subscriber_id = s.id "
                   f"AND c.to_status = ANY({left}::text[]) AND c.created_at < {cutoff}::timestamptz)")
    left_since = (f"EXISTS (SELECT 1 FROM subscriber_status_changes c WHERE c.subscriber_id = s.id "
                  f"AND c.to_status = ANY({left}::text[]) AND c.created_at >= {cutoff}::timestamptz)")
    engaged_since = (f"EXISTS (SELECT 1 FROM events e WHERE e.subscriber_id = s.id AND e.workspace_id = s.workspace_id "
                     f"AND e.kind IN ('open', 'click') AND e.occurred_at >= {cutoff}::timestamptz "
                     f"AND e.occurred_at < {until}::timestamptz)")
    moment = f"{cutoff}::timestamptz"
    rows = await fetch(
        f"WITH sample AS (SELECT s.id FROM subscribers s WHERE s.workspace_id = {workspace} "
        f"AND s.created_at < {cutoff}::timestamptz AND NOT {left_before} "
        f"AND (s.status = 'confirmed' OR (s.status = ANY({left}::text[]) AND {left_since})) "
        f"ORDER BY random() LIMIT {params.add(SAMPLE)}) "
        f"SELECT s.id, {_feature_columns(moment)}, "
        f"({left_since} OR (ev.last_engaged >= {moment} - interval '90 days' AND NOT {engaged_since})) AS churned "
        f"FROM sample JOIN subscribers s ON s.id = sample.id {_engagement_lateral(moment)} ORDER BY s.id", params)
    return rows


@dataclass(frozen=True)
class Fitted:
    """A trained model as stored: each feature's mean, scale and weight on the standardised value."""

    features: list[dict[str, Any]]
    intercept: float
    auc: float
    trained_on: int
    held_out: int


def fit(rows: Sequence[Mapping[str, Any]]) -> Fitted | None:
    """Train on all but the held-out share and measure AUC on it; None when either class is too small."""
    labels = np.array([bool(row["churned"]) for row in rows], dtype=int)
    churned = int(labels.sum())
    if churned < MIN_PER_CLASS or len(labels) - churned < MIN_PER_CLASS:
        return None
    values = np.array([[float(row[feature.name]) for feature in FEATURES] for row in rows])
    train_x, test_x, train_y, test_y = train_test_split(values, labels, test_size=HELD_OUT, stratify=labels,
                                                        random_state=0)
    scaler = StandardScaler().fit(train_x)
    model = LogisticRegression(max_iter=1000).fit(scaler.transform(train_x), train_y)
    auc = float(roc_auc_score(test_y, model.predict_proba(scaler.transform(test_x))[:, 1]))
    features = [{"name": feature.name, "label": feature.label, "mean": float(mean), "scale": float(scale),
                 "weight": float(weight)}
                for feature, mean, scale, weight in zip(FEATURES, scaler.mean_, scaler.scale_, model.coef_[0],
                                                        strict=True)]
    return Fitted(features, float(model.intercept_[0]), auc, len(train_y), len(test_y))


async def train(workspace_id: int, now: datetime) -> dict[str, Any]:
    """Train on the workspace's history and store the model (with a note and no AUC when it could not learn)."""
    rows = await training_rows(workspace_id, now)
    churned = sum(1 for row in rows if row["churned"])
    fitted = fit(rows)
    model = ChurnModel(workspace_id=checked_workspace_id(workspace_id), trained_at=now, horizon_days=HORIZON_DAYS,
                       churned=churned)
    if fitted is None:
        model.trained_on = len(rows)
        model.note = (f"Not enough history: {len(rows):,} subscribers were on a list {HORIZON_DAYS} days ago, "
                      f"{churned:,} of them churned since; the model needs at least {MIN_PER_CLASS} who churned "
                      f"and {MIN_PER_CLASS} who stayed.")
    else:
        model.trained_on, model.held_out, model.auc = fitted.trained_on, fitted.held_out, fitted.auc
        model.features, model.intercept = fitted.features, fitted.intercept
    await model.save()
    return await ChurnModel.select().where(ChurnModel.id == model.id).output(load_json=True).first() or {}


def risk_sql(model: Mapping[str, Any], params: Params, moment: str) -> str:
    """The model's probability of churn as SQL over `s` and `ev`: the logistic of the standardised sum."""
    terms = [params.add(float(model["intercept"])) + "::float8"]
    by_name = {feature.name: feature for feature in FEATURES}
    for stored in model["features"]:
        feature = by_name[stored["name"]]
        terms.append(f"{params.add(stored['weight'])}::float8 * (({feature.sql.format(m=moment)})::float8 - "
                     f"{params.add(stored['mean'])}::float8) / {params.add(stored['scale'] or 1.0)}::float8")
    return f"1 / (1 + exp(-least(greatest({' + '.join(terms)}, -50), 50)))"


async def score(workspace_id: int, model: Mapping[str, Any], now: datetime) -> int:
    """Every confirmed subscriber's risk under `model`, in chunks by id; rows of anyone else are dropped."""
    workspace_id = checked_workspace_id(workspace_id)
    scored, after = 0, 0
    while True:
        params = Params()
        workspace, moment = params.add(workspace_id), params.add(now)
        risk = risk_sql(model, params, f"{moment}::timestamptz")
        rows = await fetch(
            f"WITH chunk AS (SELECT s.id FROM subscribers s WHERE s.workspace_id = {workspace} "
            f"AND s.status = 'confirmed' AND s.id > {params.add(after)}::bigint ORDER BY s.id "
            f"LIMIT {params.add(SCORE_CHUNK)}), "
            f"written AS (INSERT INTO churn_scores AS c (subscriber_id, workspace_id, model_id, risk, scored_at) "
            f"SELECT s.id, s.workspace_id, {params.add(model['id'])}, {risk}, {moment} "
            f"FROM chunk JOIN subscribers s ON s.id = chunk.id {_engagement_lateral(f'{moment}::timestamptz')} "
            "ON CONFLICT (subscriber_id) DO UPDATE SET model_id = excluded.model_id, risk = excluded.risk, "
            "scored_at = excluded.scored_at RETURNING 1) "
            "SELECT (SELECT max(id) FROM chunk) AS last_id, (SELECT count(*) FROM written) AS written", params)
        if rows[0]["last_id"] is None:
            break
        after, scored = rows[0]["last_id"], scored + rows[0]["written"]
    params = Params()
    await fetch(f"DELETE FROM churn_scores WHERE workspace_id = {params.add(workspace_id)} "
                f"AND scored_at < {params.add(now)}", params)
    return scored


async def latest_model(workspace_id: int) -> dict[str, Any] | None:
    return await ChurnModel.select().where(owned_by(ChurnModel, workspace_id)).order_by(
        ChurnModel.trained_at, ChurnModel.id, ascending=False).output(load_json=True).first()


async def retrain(workspace_id: int, now: datetime) -> dict[str, Any]:
    """Train, then score with the new model when it learnt something (else the last scores stay)."""
    model = await train(workspace_id, now)
    if model.get("auc") is not None:
        await score(workspace_id, model, now)
    return model


async def history_start(workspace_id: int) -> date | None:
    """The day the workspace's oldest subscriber joined (None without subscribers): a model first has a horizon
    of history to learn from `HORIZON_DAYS` later. Each list's oldest is one step down its (list, created_at)
    index."""
    params = Params()
    rows = await fetch(
        "SELECT min(oldest.created_at) AS oldest FROM lists l CROSS JOIN LATERAL (SELECT s.created_at "
        "FROM subscribers s WHERE s.list_id = l.id ORDER BY s.created_at LIMIT 1) oldest "
        f"WHERE l.workspace_id = {params.add(checked_workspace_id(workspace_id))}", params)
    return rows[0]["oldest"].date() if rows[0]["oldest"] else None


def drivers(model: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The model's features, strongest first, each with the direction it pushes risk."""
    return sorted(({**feature, "raises": feature["weight"] > 0} for feature in model.get("features") or []),
                  key=lambda feature: -abs(feature["weight"]))


def odds_ratio(weight: float) -> float:
    """How much one standard deviation more of a feature multiplies the odds of churning."""
    return math.exp(weight)
