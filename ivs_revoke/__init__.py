"""`ivs-revoke`: the operator's command line for the revocation pipeline (see `ivs_revoke.cli`)."""

__version__ = "0.1.0"
PROG = "ivs-revoke"
