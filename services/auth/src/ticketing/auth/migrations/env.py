from ticketing.auth.models import Base
from ticketing.common.db import infrastructure, run_alembic_env

run_alembic_env(Base.metadata, infrastructure)
