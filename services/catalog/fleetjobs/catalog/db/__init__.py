"""Repositories over the catalog's tables (models in fleetjobs.core.db.models). Each takes an
AsyncSession and never commits: the servicer's unit of work does."""

from fleetjobs.catalog.db._contents import Contents
from fleetjobs.catalog.db._credentials import Credentials
from fleetjobs.catalog.db._jobs import Jobs
from fleetjobs.catalog.db._policies import ExecutionPolicies
from fleetjobs.catalog.db._request_ids import RequestIds
from fleetjobs.catalog.db._targets import Targets

__all__ = ["Contents", "Credentials", "ExecutionPolicies", "Jobs", "RequestIds", "Targets"]
