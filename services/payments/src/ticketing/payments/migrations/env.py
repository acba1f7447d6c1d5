from ticketing.common.alembic_history import run_alembic_env
from ticketing.payments.models import Base

run_alembic_env(Base.metadata)
