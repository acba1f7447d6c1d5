"""Auth request and response bodies."""

from typing import Annotated
from uuid import UUID

from pydantic import AfterValidator, Field

from ticketing.auth import domain
from ticketing.common.contracts import ApiModel, PlainText

# The lengths are also in the JSON schema, so a contract tester knows what a valid body is.
Password = Annotated[
    str,
    AfterValidator(domain.check_password_policy),
    Field(json_schema_extra={"minLength": domain.PASSWORD_MIN, "maxLength": domain.PASSWORD_MAX}),
]


class Credentials(ApiModel):
    email: Annotated[
        PlainText,
        AfterValidator(domain.normalize_email),
        Field(json_schema_extra={"maxLength": domain.EMAIL_MAX}),
    ]
    password: Password


class SignInCredentials(ApiModel):
    """Any email may be tried (an unknown one is just wrong credentials), but the password's
    length is checked first, so an absurd one is refused before it is hashed."""

    email: Annotated[
        PlainText,
        AfterValidator(domain.check_sign_in_email),
        Field(json_schema_extra={"maxLength": domain.EMAIL_MAX}),
    ]
    password: Password


class UserOut(ApiModel):
    id: UUID
    email: str


class CurrentUserOut(ApiModel):
    current_user: UserOut | None
