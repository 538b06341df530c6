"""The one place a Delta table's file list becomes what DuckDB opens.

delta-rs 1.x lists a local table's files (`DeltaTable.file_uris()`) as its table URL's path, still
percent-encoded (`/Application%20Support/...`), followed by each file's path under the table as it
is named on disk. DuckDB takes that text as a file name, so a store under a folder named with a
space, '#', '?', '%' or a non-ASCII letter could be written once and then read nowhere. The table's
own folder is decoded here, exactly once and only it: what follows is the name on disk, which can
itself hold a '%' (Delta escapes partition values that way). Object-store URLs (s3://, az://,
gs://) stay URLs.
"""

from __future__ import annotations

from urllib.parse import unquote, urlsplit

from deltalake import DeltaTable


def readable_files(dt: DeltaTable) -> list[str]:
    """The files of `dt` at the version it is loaded at, as paths (or object-store URLs) DuckDB opens."""
    table_uri = dt.table_uri
    return [readable_file(uri, table_uri) for uri in dt.file_uris()]


def readable_file(uri: str, table_uri: str) -> str:
    """One entry of `file_uris()` of the table at `table_uri` (its `DeltaTable.table_uri`), made readable.

    A file not under the table's folder (an absolute path in the log) is given back as listed."""
    parts = urlsplit(table_uri)
    if parts.scheme != "file":
        return uri
    encoded = parts.path.rstrip("/") + "/"
    if uri.startswith(encoded):
        return unquote(encoded) + uri[len(encoded):]
    if uri.startswith(table_uri.rstrip("/") + "/"):
        return unquote(encoded) + uri[len(table_uri.rstrip("/")) + 1:]
    return uri


def local_folder(table_uri: str) -> str | None:
    """A table's folder as a local path (decoded as `readable_file` decodes its files' paths), or None for an
    object store's URL."""
    parts = urlsplit(table_uri)
    return unquote(parts.path).rstrip("/") if parts.scheme == "file" else None
