"""Web plumbing shared by the routes: sign-in guards, page rendering, errors, observability."""
