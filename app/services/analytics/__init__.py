"""The Analytics portal's decisions: rollups, ESP performance, revenue and P&L, intelligence, the volume planner."""
