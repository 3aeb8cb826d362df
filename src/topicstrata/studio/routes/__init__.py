"""One router per area of the studio: runs, topics, analytics, registry, static assets."""
