"""Automations: flows of steps that people enter on a trigger and advance through, each step run exactly once.

- `definition`: what a flow's steps, trigger and settings may be, checked with a message per step.
- `flows`: creating, editing, publishing versions, pausing, and moving waiting people to a new version.
- `engine`: enrolling people and advancing due steps in batches, on any number of workers.
- `steps`: what each step kind does to a whole group of enrolments at once (sending is in `sending`).
"""
