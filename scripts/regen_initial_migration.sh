#!/usr/bin/env bash
# Until the first release the schema is one hand-reviewed migration, regenerated from the models.
set -euo pipefail
cd "$(dirname "$0")/.."
rm -f /tmp/fj_autogen.db libs/core/fleetjobs/core/db/migrations/versions/0001_*.py
.venv/bin/python - <<'PY'
from alembic import command
from fleetjobs.core.db._migrate import _config
command.revision(_config("sqlite:////tmp/fj_autogen.db"), message="initial schema", autogenerate=True, rev_id="0001")
PY
f=$(ls libs/core/fleetjobs/core/db/migrations/versions/0001_*.py)
# Migrations must not import application types: UtcDateTime is a DateTime(timezone=True).
sed -i 's/fleetjobs\.core\.db\._base\.UtcDateTime(timezone=True)/sa.DateTime(timezone=True)/g; s/^# ### .*$//; s/    # ### .*$//' "$f"
.venv/bin/ruff format -q "$f"
