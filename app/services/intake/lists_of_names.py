"""Addresses that hurt a file's quality: role accounts (a team's mailbox, not a person) and disposable domains
(throw-away inboxes). Kept by hand: the widely used services, not every one; add a domain when a partner's
files show a new one.
"""

ROLE_ACCOUNTS = frozenset({
    "abuse", "accounts", "admin", "administrator", "billing", "careers", "contact", "customerservice", "dev",
    "enquiries", "feedback", "finance", "hello", "help", "helpdesk", "hostmaster", "hr", "info", "inquiries",
    "it", "jobs", "legal", "mail", "mailer-daemon", "marketing", "media", "newsletter", "no-reply", "noc",
    "noreply", "office", "orders", "postmaster", "press", "privacy", "recruitment", "reservations", "root",
    "sales", "security", "service", "spam", "staff", "support", "team", "webmaster",
})

DISPOSABLE_DOMAINS = frozenset({
    "10minutemail.com", "10minutemail.net", "20minutemail.com", "33mail.com", "anonaddy.me", "burnermail.io",
    "discard.email", "dispostable.com", "dropmail.me", "emailondeck.com", "fakeinbox.com", "fakemail.net",
    "getairmail.com", "getnada.com", "guerrillamail.biz", "guerrillamail.com", "guerrillamail.de",
    "guerrillamail.info", "guerrillamail.net", "guerrillamail.org", "guerrillamailblock.com", "harakirimail.com",
    "inboxkitten.com", "jetable.org", "mail.tm", "maildrop.cc", "mailcatch.com", "mailinator.com",
    "mailinator.net", "mailnesia.com", "mailpoof.com", "mintemail.com", "moakt.com", "mohmal.com",
    "mytemp.email", "nada.email", "sharklasers.com", "spam4.me", "spambox.us", "spamgourmet.com",
    "temp-mail.io", "temp-mail.org", "tempail.com", "tempinbox.com", "tempmail.dev", "tempmail.net",
    "tempmailo.com", "tempr.email", "throwawaymail.com", "trashmail.com", "trashmail.de", "trashmail.net",
    "yopmail.com", "yopmail.fr", "yopmail.net",
})
