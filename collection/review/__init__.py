"""`roboz-collection review BUILD_DIR`: look at the renders, keep / reject / pick another candidate, re-roll.

    decisions.py   review.json (the artist's decisions, written atomically) and applying them
                   through collection.render.reroll.apply_reroll, the code `reroll` runs
    server.py      a local HTTP server: 127.0.0.1, a random port, a secret in every URL
    page.html/js   the page (no framework, no CDN; data only ever reaches the DOM as text)
"""
