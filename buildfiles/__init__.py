"""The ground floor: what every room stands on and nothing else.

Errors a user can act on, atomic writes, hashing, IPFS URIs, and the typed readers and
writers of the build directory's files. It imports no room (`collection`, `generator`,
`metadata`, `contracts`), so each room can import it without pulling in another.
"""
