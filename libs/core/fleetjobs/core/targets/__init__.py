"""What a database target may say about how to connect: the allow-list of connection options,
shared by the catalog (checked on CreateTarget) and the executor's connectors (checked again
before every connection). See docs/adr/0006."""

from fleetjobs.core.targets._allowed import ENGINE_OPTIONS, ODBC_FAMILIES, OptionSet, odbc_family
from fleetjobs.core.targets._options import (
    MAX_OPTIONS,
    OPTION_KEY_RE,
    OPTION_VALUE_MAX,
    OptionProblem,
    option_problems,
    option_set,
)

__all__ = [
    "ENGINE_OPTIONS",
    "MAX_OPTIONS",
    "ODBC_FAMILIES",
    "OPTION_KEY_RE",
    "OPTION_VALUE_MAX",
    "OptionProblem",
    "OptionSet",
    "odbc_family",
    "option_problems",
    "option_set",
]
