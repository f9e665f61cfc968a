"""The manifest `init` writes: modelled on the artist's practice with Jax."""

STARTER_MANIFEST = """\
# roboz-collection manifest. Every key is explained in the README ("The manifest").
collection:
  name: Rusty Roboz
  symbol: ROBOZ
  description: Little robots painted by VQGAN+CLIP from a sketch of Jax.
  external_url: https://example.org/roboz
  seed: 2021            # the whole collection (traits, order, render seeds) follows from this
  supply: 24            # tokens, specials included; or `all` for every allowed combination
  start_id: 1
  shuffle: true
  royalties: {receiver: "0x000000000000000000000000000000000000dEaD", bps: 500}

render:
  models: vqgan_imagenet_f16_16384+ViT-B/32   # `models fetch`; without it `build --draft` paints with `demo`
  init_image: jax.png                         # your sketch, next to this file; `jax` = the bundled one
  init_weight: 0.5
  size: [384, 384]
  iterations: 500
  snapshots: [100, 250, 500]
  step_size: 0.1
  cutn: 32
  cut_pow: 1.0
  optimiser: adam
  video: {every: 5, fps: 24}

prompt:
  # {category} is replaced by the trait's prompt phrase; `|` separates weighted prompts.
  template: "{colour} rusty roboz {object} {setting} | {style}:0.5"

traits:
  colour:  {Red: 3, Blue: 2, Rusty: 5, Golden: 1}
  object:
    Lightsaber: {weight: 2, prompt: "with a lightsaber"}
    Surfboard:  {weight: 2, prompt: "surfing"}
    Pirate:     {weight: 1, prompt: "as a space pirate"}
  setting:
    Volcano: {weight: 2, prompt: "in a volcano"}
    Sea:     {weight: 2, prompt: "in the sea"}
    Hill:    {weight: 3, prompt: "on a hill"}
  style: {"trending on artstation": 3, "rendered by Unreal Engine": 2}

exclude:
  - {object: Surfboard, setting: Volcano}

specials:
  - name: Dune
    prompt: "Dune | rusty roboz:0.5"
  - name: Brave little rusty roboz
    prompt: "Brave little rusty roboz"
    render: {iterations: 1000}

# A drop: collectors mint from a page (README, "Sell it: a drop"). Uncomment to sell.
# sale:
#   payout: "0x000000000000000000000000000000000000dEaD"   # withdraw sends the proceeds here
#   reserve: 2                 # minted to the artist before any phase
#   reveal: fair               # placeholder until `reveal` draws the offset; or none
#   phases:                    # up to 4, in order; times in UTC with a Z; prices in ETH, in quotes
#     - {name: allowlist, start: "2026-12-20T18:00:00Z", price: "0.01", per_wallet: 2, allowlist: allowlist.csv}
#     - {name: public, start: "2026-12-21T18:00:00Z", price: "0.02", per_wallet: 5}
"""
