"""Throttling shared by all workers: token buckets, adaptive rates, circuit breakers, warm-up plans."""

from app.services.throttling.adaptive import (
    AimdPolicy,
    Outcomes,
    RateStep,
    adjust_rate,
    aimd_step,
    current_rate,
    record_outcomes,
    window_outcomes,
)
from app.services.throttling.breaker import (
    BreakerPolicy,
    BreakerStatus,
    CircuitState,
    breaker_allows,
    breaker_status,
    record_failure,
    record_success,
)
from app.services.throttling.buckets import (
    DAY,
    DEFAULT_DOMAIN_GROUP_PER_HOUR,
    HOUR,
    MINUTE,
    MONTH,
    SECOND,
    Bucket,
    Grant,
    acquire,
    acquire_many,
    domain_group_bucket,
    level_at,
    server_buckets,
    tokens_left,
    workspace_bucket,
)
from app.services.throttling.decisions import Decision, recent_decisions
from app.services.throttling.warmup import (
    WARMUP_PLANS,
    WarmupPlan,
    WarmupState,
    WarmupStep,
    advance_day,
    daily_cap,
    doubling_plan,
    jump_to_day,
    local_today,
    override_cap,
)

__all__ = [
    "DAY", "DEFAULT_DOMAIN_GROUP_PER_HOUR", "HOUR", "MINUTE", "MONTH", "SECOND", "WARMUP_PLANS",
    "AimdPolicy", "BreakerPolicy", "BreakerStatus", "Bucket", "CircuitState", "Decision", "Grant", "Outcomes",
    "RateStep", "WarmupPlan", "WarmupState", "WarmupStep",
    "acquire", "acquire_many", "adjust_rate", "advance_day", "aimd_step", "breaker_allows", "breaker_status",
    "current_rate", "daily_cap", "domain_group_bucket", "doubling_plan", "jump_to_day", "level_at", "local_today",
    "override_cap", "recent_decisions", "record_failure", "record_outcomes", "record_success",
    "server_buckets", "tokens_left", "window_outcomes", "workspace_bucket",
]
