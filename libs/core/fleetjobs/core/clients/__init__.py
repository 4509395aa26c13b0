"""Clients other services use to ask the catalog for definitions and credentials."""

from fleetjobs.core.clients._catalog import (
    CHANNEL_OPTIONS,
    CatalogClient,
    CatalogUnavailableError,
    DefinitionNotFound,
)
from fleetjobs.core.clients._credentials import CredentialRefusedError, CredentialResolver, Secret

__all__ = [
    "CHANNEL_OPTIONS",
    "CatalogClient",
    "CatalogUnavailableError",
    "CredentialRefusedError",
    "CredentialResolver",
    "DefinitionNotFound",
    "Secret",
]
