from ticketing.common.db import infrastructure, run_alembic_env
from ticketing.tickets.models import Base

run_alembic_env(Base.metadata, infrastructure)
