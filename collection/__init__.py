"""roboz-collection: manifest -> plan -> render -> metadata -> publish -> mint.

Kept empty of imports on purpose: `generator`, `metadata` and `contracts` read the
plan through `buildfiles.plan`, and importing this package must not pull torch
or web3 in behind their back.
"""

__version__ = "0.1.0"
