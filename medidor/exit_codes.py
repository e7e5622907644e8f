"""The agent's exit codes, one meaning each; `medidor --help` and medidor/README.md list them."""

EXIT_OK = 0
EXIT_USAGE = 2           # an invalid option or configuration file
EXIT_STATE = 3           # the state directory cannot be used (unreadable, another meter's, in use)
EXIT_SPOOL_DAMAGED = 4   # readings on disk no longer read back: `medidor reparar` keeps the intact ones
