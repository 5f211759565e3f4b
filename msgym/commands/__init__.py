"""The jobs behind the ``msgym`` command, apart from the library: ``bench``, ``evaluate``, ``train``,
``tune_model``, ``collect``, ``export``. Each takes its measurer from the caller (the CLI makes one
and closes it); their configuration files ship as package data (``configs/``)."""

from pathlib import Path

CONFIG_DIR = Path(__file__).resolve().parent / "configs"  # shipped with the package (package data)
