"""Shaded stripes: a proxymat plugin generator written with numpy (docs/plugins.md)."""

import numpy as np

from proxymat.plugin import Generator, e, f, i


def stripes(params, res, seed):
    """Vertical stripes, `count` per tile, each shaded at random by up to `variation`."""
    count, width = params["count"], params["width"]
    x = (np.arange(res) + 0.5) / res * count        # stripe coordinate: count whole stripes per tile
    d = np.abs(x % 1.0 - 0.5) * 2.0                 # 0 at a stripe's centre, 1 between stripes
    if params["profile"] == "square":
        row = (d < width).astype(np.float64)
    elif params["profile"] == "ramp":
        row = np.clip(1.0 - d / width, 0.0, 1.0)
    else:  # "smooth"
        row = 0.5 + 0.5 * np.cos(np.pi * np.minimum(d / width, 1.0))
    shade = 1.0 - params["variation"] * np.random.default_rng(seed).random(count)
    row = row * shade[np.minimum(x.astype(int), count - 1)]
    return np.tile(row, (res, 1))                   # (res, res), values in [0, 1]


GENERATORS = [
    Generator("shaded_stripes", stripes, [
        i("count", 8, 1, 32, doc="Stripes per tile."),
        f("width", 0.5, 0.05, 1.0, doc="Stripe width as a fraction of the period."),
        e("profile", "smooth", ["square", "ramp", "smooth"], doc="Cross-section of a stripe."),
        f("variation", 0.3, doc="Random darkening per stripe (from the seed)."),
    ]),
]
