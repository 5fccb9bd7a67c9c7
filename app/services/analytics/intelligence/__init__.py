"""Intelligence: churn risk, engagement movement, best hours, content learnings, list health, recommendations."""
