"""A/B tests: the variants a campaign tries, who gets which, the rest held for the winner, and the figures.

A test changes one thing (the subject, the from name or the whole content)
across 2 to 5 variants. At materialisation `ab_test_percent` of the audience is
split evenly across the variants by a hash of the subscriber id seeded with the
campaign id: the same person always lands in the same variant of a campaign,
and different campaigns test on different people. Everyone else is written
`held` (variant 0) and waits for the winner (`winner.py`), who then gets the
winning variant. Each variant carries its own snapshot from launch on, so
editing a template later never changes what any variant sends.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from app.db.campaigns import Campaign, CampaignVariant, ContentLearning
from app.db.content import EmailTemplate
from app.piccolo_conf import DB
from app.services import statements
from app.services.accounts import now
from app.services.campaigns.drafts import SUBJECT_LENGTH, CampaignError, get_campaign
from app.services.form_input import chosen_id, owned_id, whole_number
from app.services.tenancy import checked_workspace_id, owned_by

DIMENSIONS = ("subject", "from_name", "content")
# The event kind each winning metric counts (events are joined to deliveries by delivery_id).
METRIC_EVENTS = {"opens": "open", "clicks": "click", "conversions": "conversion"}
MOST_VARIANTS = 5
FEWEST_VARIANTS = 2
FROM_NAME_LENGTH = 120
# The hash of a subscriber id is cut to this many points; the test share is the points below a threshold.
HASH_POINTS = 1 << 20
# What each dimension's variants change, as the field of a variant row and of the form (variant_<n>_<field>).
CHANGED = {"subject": "subject", "from_name": "from_name", "content": "template_id"}


@dataclass(frozen=True)
class SentContent:
    """What one variant sends (variant 0 when the campaign tests nothing), from a template not yet frozen."""

    variant: int
    label: str
    template: dict | None
    subject: str
    from_name: str
    preheader: str

    def snapshot(self) -> dict[str, Any]:
        """The frozen copy a delivery of this variant is rendered from (needs a template)."""
        template = self.template or {}
        return {"snapshot_subject": self.subject, "snapshot_html": template["html"],
                "snapshot_text": template["text_part"], "snapshot_preheader": self.preheader,
                "snapshot_version": template["version"]}


def _point_sql(subscriber_id: str, campaign_id: int) -> str:
    return f"(hashint8extended({subscriber_id}, {int(campaign_id)}) & {HASH_POINTS - 1})"


def _threshold(campaign: Mapping[str, Any]) -> int:
    return HASH_POINTS * int(campaign["ab_test_percent"]) // 100


def assignment_sql(campaign: Mapping[str, Any]) -> tuple[str, str]:
    """SQL expressions over the subscriber `s` for a new delivery's variant and status.

    Without a test every delivery is variant 0 and queued. With one, the test share is spread over
    the variants by the same hash point (point modulo the number of variants), and the rest is held
    as variant 0, or, once the winner is known (a chunk written after the decision), sent the winner.
    """
    if not campaign["ab_dimension"]:
        return "0", "'queued'"
    campaign_id = int(campaign["id"])
    point, threshold = _point_sql("s.id", campaign_id), _threshold(campaign)
    count = f"(SELECT greatest(count(*), 1) FROM campaign_variants v WHERE v.campaign_id = {campaign_id})"
    winner = campaign["ab_winner"]
    rest_variant, rest_status = (str(int(winner)), "'queued'") if winner else ("0", "'held'")
    return (f"CASE WHEN {point} < {threshold} THEN 1 + {point} % {count} ELSE {rest_variant} END",
            f"CASE WHEN {point} < {threshold} THEN 'queued' ELSE {rest_status} END")


def _text(raw: Mapping[str, Any], name: str) -> str:
    return str(raw.get(name) or "").strip()


def _number(raw: Mapping[str, Any], field: str, errors: dict[str, str], message: str, low: int, high: int,
            default: int) -> int:
    try:
        value = whole_number(raw.get(field), field, CampaignError, message, low=low, high=high)
    except CampaignError as exc:
        errors.update(exc.errors)
        return default
    return default if value is None else value


async def _variant_values(workspace_id: int, dimension: str, raw: Mapping[str, Any],
                          errors: dict[str, str]) -> list[dict[str, Any]]:
    """The variants filled in, numbered from 1 in the order given; errors name the form field at fault."""
    field = CHANGED[dimension]
    filled: list[tuple[str, Any]] = []
    for n in range(1, MOST_VARIANTS + 1):
        name, value = f"variant_{n}_{field}", _text(raw, f"variant_{n}_{field}")
        if not value:
            continue
        if field == "template_id":
            value = await owned_id(EmailTemplate, workspace_id,
                                   chosen_id(value, name, CampaignError, "Choose a template."))
        elif field == "subject" and len(value) > SUBJECT_LENGTH:
            errors[name] = f"Use at most {SUBJECT_LENGTH} characters."
        elif field == "from_name" and len(value) > FROM_NAME_LENGTH:
            errors[name] = f"Use at most {FROM_NAME_LENGTH} characters."
        if value in [earlier for _, earlier in filled]:
            errors[name] = "This variant is the same as an earlier one: make each variant different."
        filled.append((name, value))
    if len(filled) < FEWEST_VARIANTS:
        errors[f"variant_{len(filled) + 1}_{field}"] = f"Fill in at least {FEWEST_VARIANTS} variants to test."
    return [{"variant": n, field: value} for n, (_, value) in enumerate(filled, start=1)]


async def _content_values(workspace_id: int, raw: Mapping[str, Any]) -> tuple[dict[str, Any], list[dict]]:
    """The campaign's Content-step values and its variants, checked; CampaignError names every field at fault."""
    errors: dict[str, str] = {}
    template_id = await owned_id(EmailTemplate, workspace_id, chosen_id(
        raw.get("template_id"), "template_id", CampaignError, "Choose a template."))
    dimension = _text(raw, "ab_dimension")
    values: dict[str, Any] = {"template_id": template_id, "ab_dimension": dimension}
    variants: list[dict] = []
    if dimension and dimension not in DIMENSIONS:
        errors["ab_dimension"] = "Choose what the test changes: the subject, the from name or the content."
    elif dimension:
        values["ab_test_percent"] = _number(raw, "ab_test_percent", errors,
                                            "Test on 1 to 100 percent of the audience.", 1, 100, 20)
        values["ab_wait_minutes"] = _number(raw, "ab_wait_minutes", errors,
                                            "Wait between 1 minute and 30 days (43,200 minutes).", 1, 43_200, 240)
        values["ab_metric"] = _text(raw, "ab_metric") or "opens"
        if values["ab_metric"] not in METRIC_EVENTS:
            errors["ab_metric"] = "Choose opens, clicks or conversions."
        variants = await _variant_values(workspace_id, dimension, raw, errors)
    if dimension == "content" and template_id is None and variants:
        # A content test's first variant is the campaign's template: what previews and duplicates show.
        values["template_id"] = variants[0]["template_id"]
    elif values["template_id"] is None and dimension != "content":
        errors["template_id"] = "Choose the template to send."
    if errors:
        raise CampaignError(errors)
    return values, variants


async def save_content(workspace_id: int, campaign_id: int, raw: Mapping[str, Any]) -> dict:
    """Save the Content step of a draft (template and A/B test); the campaign with its `variants`."""
    campaign = await get_campaign(workspace_id, campaign_id)
    values, variants = await _content_values(workspace_id, raw)
    async with DB.transaction():
        rows = await Campaign.update({**values, Campaign.updated_at: now()}).where(
            owned_by(Campaign, workspace_id), Campaign.id == campaign["id"], Campaign.status == "draft"
        ).returning(Campaign.id)
        if not rows:
            raise CampaignError(f"This campaign is {campaign['status']}: only drafts can be edited.")
        await CampaignVariant.delete().where(owned_by(CampaignVariant, workspace_id),
                                             CampaignVariant.campaign_id == campaign["id"])
        if variants:
            await CampaignVariant.insert(*[CampaignVariant(
                workspace_id=checked_workspace_id(workspace_id), campaign_id=campaign["id"], created_at=now(),
                updated_at=now(), **variant) for variant in variants])
    return {**await get_campaign(workspace_id, campaign_id), "variants": await variants_of(workspace_id, campaign_id)}


def variant_label(dimension: str, variant: Mapping[str, Any], template_names: Mapping[int, str]) -> str:
    """What a variant tries, in words: its subject, its from name, or its template's name."""
    if dimension == "content":
        return template_names.get(variant["template_id"], "(template deleted)")
    return str(variant[CHANGED.get(dimension, "subject")])


async def _template_names(workspace_id: int, ids: list[int]) -> dict[int, str]:
    if not ids:
        return {}
    rows = await EmailTemplate.select(EmailTemplate.id, EmailTemplate.name).where(
        owned_by(EmailTemplate, workspace_id), EmailTemplate.id.is_in(ids))
    return {row["id"]: row["name"] for row in rows}


async def _variant_rows(workspace_id: int, campaign_id: int) -> list[dict]:
    return await CampaignVariant.select().where(
        owned_by(CampaignVariant, workspace_id), CampaignVariant.campaign_id == campaign_id
    ).order_by(CampaignVariant.variant)


async def variants_of(workspace_id: int, campaign_id: int) -> list[dict]:
    """The campaign's variants in order, each with a `label` saying what it tries; [] without a test."""
    campaign = await get_campaign(workspace_id, campaign_id)
    rows = await _variant_rows(workspace_id, campaign["id"])
    names = await _template_names(workspace_id, [row["template_id"] for row in rows if row["template_id"]])
    return [{**row, "label": variant_label(campaign["ab_dimension"], row, names)} for row in rows]


async def _template(workspace_id: int, template_id: int | None) -> dict | None:
    if template_id is None:
        return None
    return await EmailTemplate.select().where(owned_by(EmailTemplate, workspace_id),
                                              EmailTemplate.id == template_id).first()


async def contents(workspace_id: int, campaign: Mapping[str, Any]) -> list[SentContent]:
    """What each variant would send if launched now (one entry, variant 0, without a test).

    The campaign's subject and preheader win over the template's; a subject test's variant subject and
    a from-name test's variant from name win over the campaign's; a content test sends each variant's template.
    """
    base = await _template(workspace_id, campaign["template_id"])
    dimension = campaign["ab_dimension"]

    def content(variant: int, label: str, template: dict | None, subject: str = "", from_name: str = "") -> SentContent:
        return SentContent(variant, label, template,
                           subject or campaign["subject"] or (template["subject"] if template else ""),
                           from_name or campaign["from_name"],
                           campaign["preheader"] or (template["preheader"] if template else ""))

    if not dimension:
        return [content(0, "", base)]
    rows = await _variant_rows(workspace_id, campaign["id"])
    names = await _template_names(workspace_id, [row["template_id"] for row in rows if row["template_id"]])
    found = []
    for row in rows:
        label = variant_label(dimension, row, names)
        if dimension == "content":
            found.append(content(row["variant"], label, await _template(workspace_id, row["template_id"])))
        else:
            found.append(content(row["variant"], label, base, row["subject"], row["from_name"]))
    return found


async def store_snapshots(workspace_id: int, campaign_id: int, sent: list[SentContent]) -> None:
    """Freeze each variant's content on its row (call inside the launch's transaction)."""
    for content in sent:
        if content.variant:
            await CampaignVariant.update({**content.snapshot(), CampaignVariant.updated_at: now()}).where(
                owned_by(CampaignVariant, workspace_id), CampaignVariant.campaign_id == campaign_id,
                CampaignVariant.variant == content.variant)


async def variant_figures(workspace_id: int, campaign: Mapping[str, Any]) -> list[dict]:
    """Per variant of the test share: recipients, sent, and sent deliveries with the metric's event."""
    rows = await statements.run("ab_tests.figures", workspace_id, campaign["id"],
                                METRIC_EVENTS[campaign["ab_metric"]])
    found = {row["variant"]: row for row in rows}
    return [{"variant": variant["variant"], "recipients": 0, "sent": 0, "successes": 0,
             **found.get(variant["variant"], {})} for variant in await _variant_rows(workspace_id, campaign["id"])]


def rate(successes: int, sample: int) -> float:
    return successes / sample if sample else 0.0


async def ab_results(workspace_id: int, campaign_id: int) -> list[dict]:
    """The test's figures for the detail page, one row per variant; [] without a test.

    Live from the deliveries until the winner is decided; from then on, the figures the decision was
    made on (the winning variant's deliveries then also include everyone it was sent to afterwards).
    """
    campaign = await get_campaign(workspace_id, campaign_id)
    if not campaign["ab_dimension"]:
        return []
    labels = {row["variant"]: row["label"] for row in await variants_of(workspace_id, campaign_id)}
    if campaign["ab_decided_at"] is not None:
        learned = await ContentLearning.select().where(
            owned_by(ContentLearning, workspace_id), ContentLearning.campaign_id == campaign["id"]
        ).order_by(ContentLearning.variant)
        return [{"variant": row["variant"], "label": labels.get(row["variant"], row["content"]),
                 "recipients": row["sample_size"], "sent": row["sample_size"], "successes": row["successes"],
                 "rate": row["rate"], "lift": row["lift"], "p_value": row["p_value"], "winner": row["winner"]}
                for row in learned]
    return [{**row, "label": labels.get(row["variant"], ""), "rate": rate(row["successes"], row["sent"]),
             "lift": None, "p_value": None, "winner": False}
            for row in await variant_figures(workspace_id, campaign)]
