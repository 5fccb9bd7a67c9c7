"""What the workspace learns from its history: churn models and their scores, engagement score snapshots."""
