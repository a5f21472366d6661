"""Data helpers shared by the recipes: the data error, the offline check, TFDS loading.

`DataError` is what a recipe's `load` raises for missing or malformed data; the
runner prints its one-line message and exits with code 2 before creating any
output. `load_tfds` fails within seconds when a dataset is not prepared locally
and the network is down, instead of letting TFDS retry for minutes.

Example:

>>> from recipes.data import DataError, load_tfds
>>> try:
...     train, test = load_tfds("imdb_reviews", ["train", "test"],
...                             hint="pass --data-dir with a local copy")
... except DataError as error:
...     print(error)                      # offline: says how to use a local copy
"""

from __future__ import annotations

import socket
from typing import Sequence

# The host TFDS and keras.utils.get_file download from; probed before a download.
DOWNLOAD_HOST = "storage.googleapis.com"


class DataError(Exception):
    """Missing or malformed input data; the one-line message says how to fix it.

    The runner prints it as `<prog>: error: <message>` and exits with code 2,
    before anything is written to the user's folders.
    """


def network_available(host: str = DOWNLOAD_HOST, port: int = 443, timeout: float = 3.0) -> bool:
    """Whether a TCP connection to `host:port` opens within `timeout` seconds."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def require_network(what: str, hint: str, host: str = DOWNLOAD_HOST) -> None:
    """Raise `DataError` at once when `what` must be downloaded and `host` is unreachable.

    Args:
        what: the thing to download, e.g. `"the TFDS dataset 'imdb_reviews'"`.
        hint: how to use a local copy instead, e.g. `"pass --data-dir DIR"`.
        host: the download host to probe.
    """
    if not network_available(host):
        raise DataError(f"cannot download {what}: no network ({host} unreachable); {hint}")


def load_tfds(
    name: str,
    splits: Sequence[str],
    *,
    hint: str,
    data_dir: str | None = None,
    as_supervised: bool = True,
) -> list:
    """Load `splits` of the TFDS dataset `name`, downloading it only if it is not prepared.

    Offline and not prepared: raises `DataError` within seconds (message ends with
    `hint`). Download or preparation failures also raise `DataError`.

    Args:
        name: the TFDS name, e.g. `"imdb_reviews"`.
        splits: split names, e.g. `["train", "test"]`.
        hint: how to use a local copy instead, shown in the error.
        data_dir: TFDS data directory (default: TFDS's own, `~/tensorflow_datasets`
            or `$TFDS_DATA_DIR`).
        as_supervised: return `(input, label)` tuples.

    Returns:
        One `tf.data.Dataset` per split, unbatched.
    """
    import tensorflow_datasets as tfds

    try:
        builder = tfds.builder(name, data_dir=data_dir)
    except Exception as error:  # e.g. DatasetNotFoundError
        raise DataError(f"TFDS dataset {name!r} is not available: {first_line(error)}; {hint}") from None
    if not builder.is_prepared():
        require_network(f"the TFDS dataset {name!r}", hint)
        try:
            builder.download_and_prepare()
        except Exception as error:
            raise DataError(f"downloading TFDS dataset {name!r} failed: {first_line(error)}; {hint}") from None
    return [builder.as_dataset(split=split, as_supervised=as_supervised) for split in splits]


def first_line(error: BaseException) -> str:
    """The first line of an error's message (its type name if the message is empty)."""
    text = str(error).strip() or type(error).__name__
    return text.splitlines()[0]
