"""Dask clients for the study chapters: a running cluster named by its scheduler address, or an in-process one.

Every chapter that trains runs or computes paths (training, barriers, geometry)
takes a ``scheduler`` parameter. Empty (the default) starts a ``LocalCluster`` of
``workers`` single-threaded processes on this machine, listening on 127.0.0.1
only, with its dashboard on 127.0.0.1 at a free port (printed on standard error)
or switched off. An address such as ``"tcp://10.0.0.5:8786"`` connects to a
scheduler started elsewhere (``dask scheduler`` / ``dask worker``, dask-jobqueue,
Kubernetes): the work then runs on that cluster's workers.

The artifact store is written by the workers and read by the chapter, so with a
remote scheduler the store must live on a path that every worker and the chapter
see alike (a shared file system; set ``$LLS_ARTIFACTS`` to it on every machine,
or pass ``store=``). :func:`lls_core.study.run_studies` checks after the runs that
every one of them is visible here and otherwise names the store path.

Example::

    from lls_core import cluster
    with cluster.client("", workers=2) as c:      # in-process: 2 worker processes
        c.submit(sum, [1, 2]).result()             # 3
    with cluster.client("tcp://127.0.0.1:8786") as c:   # a running scheduler
        ...
"""

from __future__ import annotations

import contextlib
import re
from typing import Any, Iterator

from . import checks

__all__ = ["check_scheduler", "client", "local_cluster", "SCHEMES"]

SCHEMES: tuple[str, ...] = ("tcp", "tls", "ws", "wss", "ucx", "inproc")
_ADDRESS = re.compile(r"^(?P<scheme>[a-z]+)://(?P<host>\[[0-9A-Fa-f:]+\]|[A-Za-z0-9_.\-]+)(?::(?P<port>\d{1,5}))?(?P<path>/\S*)?$")


def check_scheduler(scheduler: Any) -> str | None:
    """``None`` for an in-process cluster (``None`` or ``""``), else the validated address string.

    Raises ``ValueError`` naming the value and the accepted form (``tcp://HOST:PORT``;
    schemes :data:`SCHEMES`). A ``distributed.Client`` is returned unchanged.
    """
    if scheduler is None or scheduler == "":
        return None
    if type(scheduler).__name__ == "Client":
        return scheduler
    if not isinstance(scheduler, str):
        raise ValueError(f"scheduler={scheduler!r}: expected a Dask scheduler address such as 'tcp://10.0.0.5:8786', or '' for an in-process cluster")
    m = _ADDRESS.match(scheduler.strip())
    if not m or m.group("scheme") not in SCHEMES:
        raise ValueError(
            f"scheduler={scheduler!r} is not a Dask scheduler address; expected SCHEME://HOST:PORT "
            f"(scheme one of {', '.join(SCHEMES)}), e.g. 'tcp://10.0.0.5:8786', or '' for an in-process cluster"
        )
    port = m.group("port")
    if port is not None and not 1 <= int(port) <= 65535:
        raise ValueError(f"scheduler={scheduler!r}: port {port} is not in 1..65535")
    return scheduler.strip()


def local_cluster(workers: int, *, dashboard: bool = True, quiet: bool = False) -> Any:
    """A ``LocalCluster`` of ``workers`` single-threaded processes bound to 127.0.0.1.

    The dashboard, when ``dashboard``, listens on 127.0.0.1 at a free port (never on
    every interface); its address is printed on standard error (under ``lls-book run``: on
    its console, see :func:`lls_core.progress.note`) unless ``quiet``.
    """
    checks.integer("workers", workers, min=1)
    from distributed import LocalCluster

    cluster = LocalCluster(
        n_workers=workers,
        threads_per_worker=1,
        processes=True,
        host="127.0.0.1",
        dashboard_address="127.0.0.1:0" if dashboard else None,
        # without the dashboard the scheduler still serves health pages: on loopback, at a free port
        scheduler_kwargs=None if dashboard else {"dashboard": False, "dashboard_address": "127.0.0.1:0"},
    )
    if dashboard and not quiet:
        link = cluster.dashboard_link
        try:
            import bokeh  # noqa: F401

            note = ""
        except ImportError:
            note = " (the dashboard pages need the bokeh package)"
        from .progress import note as _console_note

        _console_note(f"Dask dashboard: {link}{note}")  # on the console (lls-book run relays it), not the page
    return cluster


@contextlib.contextmanager
def client(scheduler: Any = None, workers: int = 1, *, dashboard: bool = True, quiet: bool = False) -> Iterator[Any]:
    """A ``distributed.Client``: to ``scheduler`` when given, else to a :func:`local_cluster` of ``workers``.

    A client or cluster made here is closed on exit; a ``distributed.Client`` passed
    as ``scheduler`` is used as it is and left open.
    """
    addr = check_scheduler(scheduler)
    if addr is not None and not isinstance(addr, str):  # an existing Client
        yield addr
        return
    from distributed import Client

    if addr is not None:
        c = Client(addr, timeout="30s")
        try:
            yield c
        finally:
            c.close()
        return
    cl = local_cluster(workers, dashboard=dashboard, quiet=quiet)
    try:
        c = Client(cl)
        try:
            yield c
        finally:
            c.close()
    finally:
        cl.close()
