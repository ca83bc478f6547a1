"""A replay in several processes: the parent (``parent``), what they say (``wire``); each process runs ``pump.cli.child``."""
