"""Scheduled S3 intake: sources polled for new files (`sources`), the rules that classify each file (`rules`),
a poll that takes files in through the import engine and moves them (`polling`), each file's quality score
(`quality`), and the history of files taken in (`files`).
"""
