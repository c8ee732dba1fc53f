"""Station codes for many ids at once, as the catalog's SQL function gives them.

A station's public code (printed on posters) is ``station_code(id)``, defined in
``stations/sql/functions/catalog.sql``: the id times a fixed odd multiplier modulo
32^6, written as six Crockford base32 characters. An import that adds many stations
numbers them itself and sends their codes with the rows (:mod:`stations.importer.bulk`);
this is the same formula over a numpy array. ``tests/catalog/test_codes.py`` holds the
two equal.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
MULTIPLIER = 387_420_489
SPACE = 32**6


def station_codes(ids: np.ndarray) -> pa.Array:
    """``station_code(id)`` of each id (int64), as an Arrow string array."""
    scrambled = (np.asarray(ids, dtype=np.int64) * MULTIPLIER) % SPACE
    letters = np.frombuffer(ALPHABET.encode(), dtype=np.uint8)
    chars = np.empty((len(scrambled), 6), dtype=np.uint8)
    for place in range(6):
        chars[:, place] = letters[(scrambled >> (5 * (5 - place))) & 31]
    return pa.array(chars.view("S6").ravel()).cast(pa.string())
