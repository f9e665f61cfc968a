"""One module per CLI command.

Each module defines NAME, HELP, EPILOG (examples), `add_arguments(parser)` and
`run(args) -> int`. Top-level imports stay light (stdlib only): torch, web3 and
friends are imported inside `run`, so `roboz-collection mint --help` starts fast.
"""

# Order shown in `roboz-collection --help`: the pipeline's order.
COMMAND_MODULES = (
    "paint",       # the studio: one prompt, then its variations, before any manifest
    "variations",
    "init",
    "validate",
    "plan",
    "build",
    "render",
    "reroll",
    "review",
    "metadata",
    "preview",
    "publish",
    "mint",
    "sale",        # the drop: sale, reveal, withdraw, verify
    "reveal",
    "withdraw",
    "verify",
    "models",
    "demo",
)
