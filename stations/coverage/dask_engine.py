"""The distributed engine: the region's partition parents, grouped, on a dask cluster.

Parents (H3 cells ``res - 3``) are grouped by their ancestor at ``res - 5``; each group
is one task running :func:`stations.coverage.engine.analyse_parents`, the same
function the single-machine engine runs on the whole region. Workers generate their
own cells, so the driver never holds the national cell set; the stations (with their
KD-tree) and the demand are scattered once to every worker. Totals are integers, so
merging them as tasks finish gives exactly the single-machine numbers.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from stations.coverage.engine import BatchContext, CellMeasures, Totals, analyse_parents
from stations.coverage.regions import task_resolution
from stations.geo import h3cells

# distributed starts workers with MALLOC_TRIM_THRESHOLD_=65536 so that they hand memory
# back to the system. That also freezes glibc's mmap threshold at 128 KiB, so every
# numpy temporary of a task (a few hundred KiB here) is mmapped, page-faulted and
# unmapped again: the same task ran 2–3× slower in a worker than in the driver. Our
# tasks are short and their memory is small, so let the heap reuse it.
WORKER_ENVIRON = {
    "MALLOC_TRIM_THRESHOLD_": str(256 * 2**20),
    "MALLOC_MMAP_THRESHOLD_": str(256 * 2**20),
}


def local_cluster(n_workers: int = 2, *, processes: bool = True) -> Any:
    """A ``LocalCluster`` of single-threaded workers set up for this engine."""
    import dask
    from dask.distributed import LocalCluster

    environ = {f"distributed.nanny.pre-spawn-environ.{k}": v for k, v in WORKER_ENVIRON.items()}
    with dask.config.set(environ):
        return LocalCluster(
            n_workers=n_workers,
            threads_per_worker=1,
            processes=processes,
            dashboard_address=None,
        )


def group_parents(parents: np.ndarray, res: int) -> list[np.ndarray]:
    """Split sorted parents into tasks by their ancestor at :func:`task_resolution`."""
    if len(parents) == 0:
        return []
    keys = h3cells.parent_array(parents, task_resolution(res))
    order = np.argsort(keys, kind="stable")
    parents, keys = parents[order], keys[order]
    cuts = np.nonzero(keys[1:] != keys[:-1])[0] + 1
    return [np.sort(g) for g in np.split(parents, cuts)]


def _run_group(parents: np.ndarray, ctx: BatchContext) -> tuple[Totals, CellMeasures | None]:
    return analyse_parents(parents, ctx)


def run_on_dask(
    parents: np.ndarray, ctx: BatchContext, *, client: Any
) -> tuple[Totals, CellMeasures | None]:
    """Run every group on ``client`` (a ``dask.distributed.Client``) and merge."""
    from dask.distributed import as_completed

    groups = group_parents(parents, ctx.res)
    if not groups:
        return analyse_parents(parents, ctx)
    [shared] = client.scatter([ctx], broadcast=True, hash=False)
    futures = client.map(_run_group, groups, ctx=shared, pure=False)
    total: Totals | None = None
    parts: list[CellMeasures] = []
    for future in as_completed(futures):
        totals, cells = future.result()
        total = totals if total is None else total + totals
        if cells is not None:
            parts.append(cells)
        future.release()
    assert total is not None
    return total, (CellMeasures.concat(parts) if ctx.keep_cells else None)
