"""The collection's ERC-721 contract: Solidity sources, compiled artifacts, deploy, mint, verify.

Never imports torch or the generator. web3 is imported by the modules that talk to a
chain (`chain`, `tx`, `mint`, `verify`), not here, so `import contracts` stays cheap.
"""
