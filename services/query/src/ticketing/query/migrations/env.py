from ticketing.common.db import run_alembic_env
from ticketing.query.models import Base

run_alembic_env(Base.metadata)
