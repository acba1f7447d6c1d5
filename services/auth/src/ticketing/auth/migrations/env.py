from ticketing.auth.models import Base
from ticketing.common.db import run_alembic_env

run_alembic_env(Base.metadata)
