"""Subcommands of the `gestured` command line, one module each."""
