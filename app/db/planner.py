"""Volume plans: saved scenarios, their inputs and the day-by-day plan each produced."""
