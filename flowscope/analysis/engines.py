"""Engines the analyses run on: the same Ibis expressions, another backend.

- DuckDB (default): `Store.table(name)`, an in-memory DuckDB over the snapshot's Parquet files.
- PySpark (the `spark` extra, `flowscope.extras.install_command`, Java 17): `spark_tables(store)` reads the same
  snapshot's Parquet files (`Store.snapshot_files()`: the file list of each Delta table at the
  version the store's manifest names) into a local SparkSession and returns Ibis tables over them.

    from flowscope.analysis import analyze
    from flowscope.analysis.engines import spark_tables
    df = analyze(spark_tables(Store.open(path)), since=...)
"""

from __future__ import annotations

import os
import re
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from flowscope.model import TABLES, TIMESTAMP

if TYPE_CHECKING:
    from flowscope.store import Store

_SPARK_TYPES = {
    "string": "string",
    "int64": "bigint",
    "int32": "int",
    "double": "double",
    "date32[day]": "date",
    str(TIMESTAMP): "timestamp",
}


LOG_CONFIG = Path(__file__).with_name("spark_log4j2.properties")
"""Spark's JVM logging: errors only, unless the user's SPARK_CONF_DIR has its own (`_java_options`)."""


def _java_options(env: Mapping[str, str]) -> str | None:
    """`-Dlog4j2.configurationFile=...` for the driver's JVM, or None when the user configured log4j
    themselves (`$SPARK_CONF_DIR/log4j2.properties`, which Spark reads): JVM start-up notices and WARN lines
    (NativeCodeLoader's) went to the stderr of every `analyze --engine spark`, noise a cron job mails."""
    conf_dir = env.get("SPARK_CONF_DIR")
    if conf_dir and Path(conf_dir, "log4j2.properties").is_file():
        return None
    return f"-Dlog4j2.configurationFile={LOG_CONFIG.as_uri()}"


ARROW_FALLBACK_NOTICE = r"createDataFrame attempted Arrow optimization"
"""PySpark's UserWarning when a pandas frame goes to Spark without Arrow (and the slower way works): Ibis
registers an analysis' small lookup tables (`ibis.memtable`) from pandas frames, and one whose text columns
Spark's own `toPandas` made (Arrow-backed, several chunks) cannot take the Arrow path. The tables are a few
rows; the notice told a user of `--engine spark` nothing they could act on."""


def spark_session(master: str = "local[2]", app_name: str = "flowscope") -> Any:
    """A local SparkSession in UTC (SPARK_LOCAL_IP=127.0.0.1 unless set), reused if one is active, whose
    JVM logs errors only (`_java_options`)."""
    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    from pyspark.sql import SparkSession

    warnings.filterwarnings("ignore", message=ARROW_FALLBACK_NOTICE, category=UserWarning)
    builder = SparkSession.builder.master(master).appName(app_name)
    java_options = _java_options(os.environ)
    if java_options is not None:
        builder = builder.config("spark.driver.extraJavaOptions", java_options)
    session = (builder
            .config("spark.sql.session.timeZone", "UTC")
            .config("spark.driver.host", "127.0.0.1")
            .config("spark.ui.enabled", "false")
            .config("spark.ui.showConsoleProgress", "false")
            .config("spark.sql.shuffle.partitions", "4")
            .config("spark.sql.execution.arrow.pyspark.enabled", "true")
            .getOrCreate())
    session.sparkContext.setLogLevel("ERROR")
    return session


_GLOB_CHARS = re.compile(r"([\\*?\[\]{}])")


def _literal_path(path: str) -> str:
    """`path` as a Hadoop glob matching only itself: Spark globs every path it reads, so a store under a
    folder named with `?`, `*` or `{}` was 'Path does not exist' (a backslash makes the next one literal)."""
    return _GLOB_CHARS.sub(r"\\\1", path)


def _spark_schema(name: str) -> str:
    return ", ".join(f"`{f.name}` {_SPARK_TYPES[str(f.type)]}" for f in TABLES[name].schema)


def spark_tables(store: "Store", session: Any = None) -> dict[str, Any]:
    """Ibis tables (PySpark backend) of every model table of the store's current snapshot.

    Each table reads exactly the model columns from its Parquet files (the Delta partition
    columns are kept inside the files, so nothing comes from the log); a table never written is
    an empty frame of its schema.
    """
    import ibis

    session = session or spark_session()
    con = ibis.pyspark.connect(session)
    files = store.snapshot_files()
    out = {}
    from pyspark.sql import functions as F

    for name in TABLES:
        schema = _spark_schema(name)
        snap = files.get(name)
        paths = list(snap.files) if snap is not None else []
        stored = snap.columns if snap is not None else None   # columns of the stored version
        if paths:
            frame = session.read.schema(schema).parquet(*map(_literal_path, paths))
        else:
            frame = session.createDataFrame([], schema)
        cols = []
        for f in TABLES[name].schema:
            if paths and stored is not None and f.name not in stored:   # written before the model had it
                cols.append(F.lit(None).cast(_SPARK_TYPES[str(f.type)]).alias(f.name))
            else:
                cols.append(F.col(f"`{f.name}`"))
        frame = frame.select(*cols)
        view = f"flowscope_{name}"
        frame.createOrReplaceTempView(view)
        out[name] = con.table(view)
    return out
