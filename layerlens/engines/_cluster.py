"""The Ray cluster a distributed pass runs on: joined or started, checked, and sized into workers.

Everything here answers within seconds: an address is probed before Ray is asked to join it (Ray itself retries
a silent address for minutes), and a request for more workers or GPUs than the cluster has is refused with the
cluster's resources in the message.
"""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass
from typing import Any

from layerlens.exceptions import InvalidInputError

__all__ = ["ClusterShape", "import_ray", "join_cluster", "size_workers"]

#: Seconds a cluster's address may take to answer before it is called silent.
CONNECT_TIMEOUT = 5.0


@dataclass(frozen=True)
class ClusterShape:
    """How the pass uses the cluster.

    Attributes
    ----------
    workers : int
        Actors of the pass, each holding the model.
    cpus_per_worker : float
        CPUs each actor reserves (its TensorFlow threads follow).
    gpus_per_worker : float
        GPUs each actor reserves.
    cpus : float
        CPUs of the whole cluster.
    gpus : float
        GPUs of the whole cluster.
    """

    workers: int
    cpus_per_worker: float
    gpus_per_worker: float
    cpus: float
    gpus: float

    def fewer(self, workers: int) -> ClusterShape:
        """The same CPUs and GPUs shared out between ``workers`` actors (fewer parts than actors to run)."""
        cpus = self.cpus_per_worker * self.workers / workers
        return ClusterShape(workers, cpus, self.gpus_per_worker, self.cpus, self.gpus)

    @property
    def threads(self) -> int:
        """TensorFlow threads per actor: its CPUs, at least one."""
        return max(1, int(self.cpus_per_worker))


def import_ray() -> Any:
    """The ``ray`` module with Ray Data, or an error saying how to install it."""
    try:
        import ray
        import ray.data  # noqa: F401  (the pass runs on Ray Data)
    except ImportError as error:
        raise InvalidInputError(
            'engine: "ray" needs Ray Data, which is not installed here: pip install "layerlens[ray]" (on the '
            f"driver and on every node of the cluster); {error}."
        ) from None
    return ray


def join_cluster(address: str | None) -> Any:
    """Ray, initialised: the cluster this process already joined, else the one at ``address`` (or
    ``RAY_ADDRESS``), else a new local one."""
    ray = import_ray()
    if ray.is_initialized():
        return ray
    # "local" starts a new cluster: Ray's own default (None) would join any cluster another program runs here.
    address = address if address is not None else os.environ.get("RAY_ADDRESS") or "local"
    if address not in ("auto", "local"):
        _probe(address)
    try:
        ray.init(address=address, log_to_driver=False, include_dashboard=False, configure_logging=False)
    except ConnectionError as error:
        raise InvalidInputError(f"ray_address: no Ray cluster answered at {address!r}: {error}") from None
    return ray


def _probe(address: str) -> None:
    """Refuse, within seconds, an address where nothing listens."""
    where = address.split("://", 1)[-1]
    host, _, port = where.rpartition(":")
    if not host or not port.isdigit():
        raise InvalidInputError(
            f"ray_address: expected HOST:PORT of a Ray cluster's head (as `ray start --head` prints), 'auto' or "
            f"'ray://HOST:PORT'; received {address!r}."
        )
    try:
        socket.create_connection((host, int(port)), timeout=CONNECT_TIMEOUT).close()
    except OSError as error:
        raise InvalidInputError(
            f"ray_address: no Ray cluster answered at {address!r} within {CONNECT_TIMEOUT:g} s ({error}). Start "
            "one with `ray start --head`, or leave the address out to start a local one."
        ) from None


def size_workers(ray: Any, workers: int | None, gpus_per_worker: float, *, reads_apart: bool) -> ClusterShape:
    """Workers and their resources on the joined cluster.

    Without ``workers``: one per GPU (``gpus_per_worker`` > 0), else one per CPU left after reading. CPUs
    are shared out between the workers, leaving one for Ray Data's reading when the images are read by tasks
    apart from the workers (``reads_apart``: a ``ray.data.Dataset``); a pass whose workers read their own
    images uses every CPU.
    """
    resources = ray.cluster_resources()
    cpus, gpus = float(resources.get("CPU", 0.0)), float(resources.get("GPU", 0.0))
    held = f"the cluster has {cpus:g} CPUs and {gpus:g} GPUs"
    if isinstance(gpus_per_worker, bool) or not isinstance(gpus_per_worker, (int, float)) or gpus_per_worker < 0:
        raise InvalidInputError(f"gpus_per_worker: expected a number ≥ 0; received {gpus_per_worker!r}.")
    left = max(cpus - (1.0 if reads_apart and cpus >= 2 else 0.0), 1.0)
    if workers is None:
        workers = int(gpus // gpus_per_worker) if gpus_per_worker > 0 else int(left)
    elif isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise InvalidInputError(f"workers: expected a whole number ≥ 1; received {workers!r}.")
    if workers < 1 or workers * gpus_per_worker > gpus:
        raise InvalidInputError(
            f"gpus_per_worker: {workers} workers × {gpus_per_worker:g} GPUs is more than the cluster holds ({held})."
        )
    if workers > left:
        raise InvalidInputError(
            f"workers: expected at most {int(left)} ({held}"
            f"{', one left for reading the images' if left < cpus else ''}); received {workers}."
        )
    return ClusterShape(workers, left / workers, float(gpus_per_worker), cpus, gpus)
