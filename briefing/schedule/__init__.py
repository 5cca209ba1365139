"""The scheduler: slots, runs, one leader per database, the daemon."""
