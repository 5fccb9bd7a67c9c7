"""Scheduled S3 intake: sources, the rules that classify their files, and each file taken in."""
