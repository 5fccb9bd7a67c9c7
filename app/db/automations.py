"""Automations: flows, their published versions, who is enrolled where, what is due, and each step run."""
