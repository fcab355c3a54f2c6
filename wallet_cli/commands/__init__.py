"""One module per command group; :mod:`wallet_cli.main` puts their commands on the app."""
