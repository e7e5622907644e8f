"""How the agent's loops pace themselves (medidor/agent.py polls, medidor/push_loop.py is fed)."""

# Readings made per loop turn while simulated time runs ahead (history, catch-up), or taken from
# a source that delivers: one spool append, so one fsync, each; small enough to notice a stop and
# refresh the status in between.
CHUNK = 2000
# The loops wake at least this often to notice a stop request and refresh the status.
TICK_S = 0.5
# The state is saved this often (month base; keys are saved when they change).
STATE_SAVE_EVERY_S = 30.0
