"""One module per gap between moto's ASL interpreter and AWS Step Functions, numbered as in
:mod:`pushgate_cli.offline`'s docstring. Each has ``install(patches, host)``; see
:mod:`pushgate_cli.offline.patching`."""
