"""Bounces and complaints: the feedback loop of data flow step 6.

Reports arrive from bounce and FBL mailboxes (IMAP, POP3), the inbound MX,
provider webhooks (SES through SNS, SparkPost, Mailgun) and the SMTP answers
of the send path itself. Each is stored once (`intake`), parsed and
classified (`reports`, `classifier`), matched to the delivery it is about
(`matching`), acted on (`actions`: suppression, soft-bounce counting) and
counted into rolling rates (`rates`) whose thresholds pause a server for a
domain group, or a campaign.
"""
