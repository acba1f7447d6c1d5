from ticketing.auth.models import Base
from ticketing.common.alembic_history import run_alembic_env

run_alembic_env(Base.metadata)
