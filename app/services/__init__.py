"""Domain logic, framework-free: no imports from routes or tasks."""
