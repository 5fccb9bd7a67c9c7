"""The framework-free message renderer: templates in, standards-correct MIME messages out."""

from app.services.rendering.budget import DEFAULT_BUDGET, BudgetExceeded, RenderBudget
from app.services.rendering.campaign import (
    CampaignContent,
    CampaignSettings,
    CompiledMessage,
    RenderedParts,
    compiled_message,
)
from app.services.rendering.checks import Check, check_content
from app.services.rendering.dkim import DkimKeyPair, DkimSigner, dkim_dns_name, generate_dkim_key
from app.services.rendering.errors import RenderError, TemplateError
from app.services.rendering.links import (
    DeliveryUrls,
    Link,
    LinkRewriter,
    OpenPixel,
    PatternUrls,
    append_utm,
)
from app.services.rendering.merge import TemplateCache, compile_template
from app.services.rendering.mime import MessageSkeleton, inline_css, message_id
from app.services.rendering.offload import render_off_loop, renders_running
from app.services.rendering.plaintext import html_to_text
from app.services.rendering.sanitizing import SanitizedHtml, sanitize_html
from app.services.rendering.spintax import compile_spintax, spin_seed

__all__ = [
    "DEFAULT_BUDGET",
    "BudgetExceeded",
    "CampaignContent",
    "CampaignSettings",
    "Check",
    "CompiledMessage",
    "DeliveryUrls",
    "DkimKeyPair",
    "DkimSigner",
    "Link",
    "LinkRewriter",
    "MessageSkeleton",
    "OpenPixel",
    "PatternUrls",
    "RenderBudget",
    "RenderError",
    "RenderedParts",
    "SanitizedHtml",
    "TemplateCache",
    "TemplateError",
    "append_utm",
    "check_content",
    "compile_spintax",
    "compile_template",
    "compiled_message",
    "dkim_dns_name",
    "generate_dkim_key",
    "html_to_text",
    "inline_css",
    "message_id",
    "render_off_loop",
    "renders_running",
    "sanitize_html",
    "spin_seed",
]
