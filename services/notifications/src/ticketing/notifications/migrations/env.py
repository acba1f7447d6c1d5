from ticketing.common.alembic_history import run_alembic_env
from ticketing.notifications.models import Base

run_alembic_env(Base.metadata)
