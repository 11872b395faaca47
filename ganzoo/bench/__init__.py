"""``ganzoo bench``: ``config`` (what is compared, under which budget), ``runner`` (train and
evaluate every variant and seed), ``evaluator`` (the one evaluation protocol, as a training
callback) and ``report`` (table, JSON, Markdown, plot). Each imports only those before it."""
