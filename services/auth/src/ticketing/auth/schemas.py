"""Auth request and response bodies."""

from typing import Annotated
from uuid import UUID

from pydantic import AfterValidator

from ticketing.auth import domain
from ticketing.common.contracts import ApiModel


class Credentials(ApiModel):
    email: Annotated[str, AfterValidator(domain.normalize_email)]
    password: Annotated[str, AfterValidator(domain.check_password_policy)]


class SignInCredentials(ApiModel):
    """Sign-in does not re-check the policy: a wrong password is just wrong."""

    email: str
    password: str


class UserOut(ApiModel):
    id: UUID
    email: str


class CurrentUserOut(ApiModel):
    current_user: UserOut | None
