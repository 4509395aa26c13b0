"""Clients other services use to ask the catalog for definitions and credentials."""

from fleetjobs.core.clients._catalog import (
    CatalogClient,
    CatalogUnavailableError,
    DefinitionNotFound,
)
from fleetjobs.core.clients._credentials import CredentialRefusedError, CredentialResolver, Secret

__all__ = [
    "CatalogClient",
    "CatalogUnavailableError",
    "CredentialRefusedError",
    "CredentialResolver",
    "DefinitionNotFound",
    "Secret",
]
