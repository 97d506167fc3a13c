"""One module per top-level section of the config file; registered in ``catalog.config.registry``."""
