"""Spark's JVM logging under `--engine spark` (no Spark needed: the option the driver's JVM gets)."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import unquote, urlsplit

from flowscope.analysis.engines import LOG_CONFIG, _java_options


def test_the_driver_logs_errors_only_with_the_packaged_config():
    option = _java_options({})
    assert option is not None and option.startswith("-Dlog4j2.configurationFile=file:")
    path = Path(unquote(urlsplit(option.split("=", 1)[1]).path))
    assert path == LOG_CONFIG and path.is_file()          # shipped with the package (pyproject package-data)
    assert "rootLogger.level = error" in path.read_text()
    assert " " not in option                               # Spark splits extraJavaOptions on spaces


def test_a_users_own_spark_logging_is_left_alone(tmp_path):
    """A team that configured Spark's logging ($SPARK_CONF_DIR/log4j2.properties) keeps it."""
    assert _java_options({"SPARK_CONF_DIR": str(tmp_path)}) is not None        # a conf dir without one
    (tmp_path / "log4j2.properties").write_text("rootLogger.level = info\n")
    assert _java_options({"SPARK_CONF_DIR": str(tmp_path)}) is None
