"""Site defaults of the command line, from a ``radiomark.toml``: the cut-off table per recipe, the
optional outputs, de-identification and the DICOM identifiers reports may show. Options given
on the command line win; the Python API takes its arguments as given and reads no file.

The file is the first of: ``--config FILE``, ``$RADIOMARK_CONFIG``, ``./radiomark.toml``,
``~/.config/radiomark/radiomark.toml``. Example::

    [run]
    tables = { sarcopenia = "martin2013" }
    dicom_seg = true
    pdf = true
    keep_identifiers = ["patient_id", "study_date"]

    [pacs]                      # DICOMweb login (radiomark.io.dicomweb); the environment's
    username = "radiomark"      # RADIOMARK_PACS_USERNAME / _PASSWORD win
    password = "..."            # only in a file its owner alone may read (chmod 600)
    ca_bundle = "/etc/ssl/site-ca.pem"

``radiomark config show`` prints the file found and the values in force (never a password).
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from radiomark.errors import InputError

CONFIG_NAME = "radiomark.toml"


class RunDefaults(BaseModel):
    """Defaults of ``radiomark run``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    tables: dict[str, str] = Field(default_factory=dict, description="recipe -> cut-off table")
    dicom_seg: bool = False
    dicom_sr: bool = False
    pdf: bool = False
    anonymize: bool = False
    keep_identifiers: tuple[str, ...] = ()


class PacsSettings(BaseModel):
    """Login and TLS trust for DICOMweb servers (``--from`` / ``--to``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    username: str | None = None
    password: str | None = Field(None, repr=False)
    ca_bundle: Path | None = Field(None, description="PEM file of the site's certificate authority")
    ae_title: str | None = Field(None, description="radiomark's AE title for DICOM networking (default RADIOMARK)")


class Config(BaseModel):
    """A ``radiomark.toml``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    run: RunDefaults = Field(default_factory=RunDefaults)
    pacs: PacsSettings = Field(default_factory=PacsSettings)


def config_path(given: Path | None = None) -> Path | None:
    """The configuration file in force (see the module docstring); None when there is none."""
    if given is not None:
        if not given.is_file():
            raise InputError(given, "no such configuration file")
        return given
    candidates = [Path(os.environ["RADIOMARK_CONFIG"])] if os.environ.get("RADIOMARK_CONFIG") else []
    candidates += [Path.cwd() / CONFIG_NAME, Path.home() / ".config" / "radiomark" / CONFIG_NAME]
    return next((path for path in candidates if path.is_file()), None)


def load_config(given: Path | None = None) -> tuple[Config, Path | None]:
    """The configuration in force and its file (defaults and None without one)."""
    path = config_path(given)
    if path is None:
        return Config(), None
    try:
        config = Config.model_validate(tomllib.loads(path.read_text(encoding="utf-8")))
    except tomllib.TOMLDecodeError as error:
        raise InputError(path, f"not valid TOML: {error}") from None
    except ValidationError as error:
        problems = "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in error.errors())
        raise InputError(path, problems) from None
    if config.pacs.password is not None and path.stat().st_mode & 0o077:
        raise InputError(path, "holds a [pacs] password but others may read it; chmod 600 it (or use "
                               "RADIOMARK_PACS_PASSWORD)")
    return config, path
