"""Measured figures of the revocation function, beside the straightforward Powertools implementation.

`python -m benchmarks` (or `make bench`) runs every measurement and writes `benchmarks/results/`:
`results.json` (every figure, with the settings and the machine it ran on), `results.md` (the table
with targets and ratios to the peer) and PNG charts. See `benchmarks/__main__.py` for the options.
"""
