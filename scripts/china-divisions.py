"""Write stations/demo/cities/china-divisions.csv from the `cpca` package (MIT).

The national demo (`stations demo --national`) places its stations around the centres
of mainland China's prefecture-level cities and their county-level divisions. Those
centres and GB/T 2260 codes come from the `adcodes.csv` that `cpca` 0.5.5
(https://github.com/DQinYuan/chinese_province_city_area_mapper, MIT licence, data of
2020) ships; this script only keeps what the demo needs and is kept to show where the
file comes from and to refresh it:

    pip download --no-deps cpca==0.5.5 -d /tmp/cpca && unzip -o -q /tmp/cpca/*.whl -d /tmp/cpca
    .venv/bin/python scripts/china-divisions.py /tmp/cpca/cpca/resources/adcodes.csv

Kept: provinces, prefecture-level divisions and county-level divisions of the mainland
(not Taiwan, Hong Kong or Macao: the union's national network does not reach them).
Dropped: the "市辖区"/"县" placeholder rows (and any row without a centre), 三沙市 and
island or sea-area entries (no street to put a station on). Centres are as cpca lists
them (Amap's district centres, GCJ-02); codes are six digits (province 2, city 4,
county 6).
"""

from __future__ import annotations

import csv
import sys
from pathlib import Path

OUT = Path(__file__).resolve().parent.parent / "stations/demo/cities/china-divisions.csv"
SKIP_PREFIXES = ("71", "81", "82", "4603")  # Taiwan, Hong Kong, Macao, 三沙


def main(source: str) -> None:
    with open(source, encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    kept = []
    for row in rows:
        code = row["adcode"][:6]
        name = row["name"]
        placeholder = name in ("市辖区", "县") or not row["longitude"]
        if placeholder or code.startswith(SKIP_PREFIXES) or name.endswith(("岛", "域")):
            continue
        kept.append((code, name, f"{float(row['longitude']):.6f}", f"{float(row['latitude']):.6f}"))
    kept.sort()
    with OUT.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(("adcode", "name", "lng_gcj02", "lat_gcj02"))
        writer.writerows(kept)
    print(f"{OUT}: {len(kept)} divisions")


if __name__ == "__main__":
    main(sys.argv[1])
