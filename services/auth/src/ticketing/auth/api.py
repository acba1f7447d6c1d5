"""Auth routes (DESIGN §3): signup, signin, signout, currentuser, and the admins' ban."""

from datetime import timedelta
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Depends, Request, Response
from sqlalchemy.exc import IntegrityError

from ticketing.auth import accounts, domain, throttle
from ticketing.auth.config import AuthSettings, Settings
from ticketing.auth.models import User
from ticketing.auth.passwords import Passwords
from ticketing.auth.schemas import Credentials, CurrentUserOut, SignInCredentials, UserOut
from ticketing.common.auth import (
    CurrentUser,
    OptionalSession,
    OptionalUser,
    RequiredUser,
    clear_session_cookie,
    set_session_cookie,
    sign_session_token,
)
from ticketing.common.errors import BadRequestError, FieldError, NotAuthorizedError, NotFoundError
from ticketing.common.events import UserCreated, UserCreatedData
from ticketing.common.openapi_errors import error_responses
from ticketing.common.service import Runtime, UnitOfWorkDep, context_of

router = APIRouter(prefix="/api/users", tags=["users"])

INVALID_CREDENTIALS = "Invalid credentials"


PasswordsDep = Annotated[Passwords, Depends(context_of(Passwords))]


def _start_session(response: Response, user: User, settings: AuthSettings) -> UserOut:
    token = sign_session_token(
        CurrentUser(id=user.id, email=user.email),
        settings.jwt_private_key,
        ttl=timedelta(seconds=settings.session_ttl_seconds),
    )
    set_session_cookie(
        response, token, secure=settings.cookie_secure, max_age=settings.session_ttl_seconds
    )
    return UserOut.model_validate(user)


@router.post("/signup", status_code=201, response_model=UserOut)
async def sign_up(
    body: Credentials,
    response: Response,
    uow: UnitOfWorkDep,
    settings: Settings,
    passwords: PasswordsDep,
) -> UserOut:
    password_hash = await passwords.hash(body.password)
    user = User(
        email=body.email, email_key=domain.email_key(body.email), password_hash=password_hash
    )
    uow.session.add(user)
    try:
        await uow.session.flush()
    except IntegrityError as exc:
        raise FieldError("email", "Email in use") from exc
    uow.publish(UserCreated(data=UserCreatedData(id=user.id, email=user.email)))
    await uow.commit()
    return _start_session(response, user, settings)


@router.post("/signin", response_model=UserOut, responses=error_responses(429))
async def sign_in(
    body: SignInCredentials,
    request: Request,
    response: Response,
    uow: UnitOfWorkDep,
    settings: Settings,
    passwords: PasswordsDep,
    runtime: Runtime,
) -> UserOut:
    key = domain.email_key(body.email)
    client = throttle.client_address(request, trust_forwarded_for=settings.trust_forwarded_for)
    await throttle.begin_attempt(runtime.sessionmaker, throttle.Limits.of(settings), key, client)
    user = await accounts.find_by_email(uow, body.email)
    verdict = await passwords.verify(user.password_hash if user else None, body.password)
    if user is None or not verdict.matches or user.banned_at is not None:
        raise BadRequestError(INVALID_CREDENTIALS)  # the attempt stays, as a failure
    if verdict.new_hash is not None:
        user.password_hash = verdict.new_hash
    await throttle.clear_attempts(uow.session, key)
    await uow.commit()
    return _start_session(response, user, settings)


@router.post("/signout")
async def sign_out(
    response: Response, session: OptionalSession, uow: UnitOfWorkDep, settings: Settings
) -> dict[str, str]:
    """Ends the session everywhere (``session.revoked``), not only in this browser."""
    if session is not None:
        await accounts.end_session(uow, session)
        await uow.commit()
    clear_session_cookie(response, secure=settings.cookie_secure)
    return {}


@router.get("/currentuser", response_model=CurrentUserOut)
async def current_user(user: OptionalUser) -> CurrentUserOut:
    if user is None:
        return CurrentUserOut(current_user=None)
    return CurrentUserOut(current_user=UserOut(id=user.id, email=user.email))


@router.post(
    "/{user_id}/ban", status_code=204, response_class=Response, responses=error_responses(401, 404)
)
async def ban_user(
    user_id: UUID, admin: RequiredUser, uow: UnitOfWorkDep, settings: Settings
) -> Response:
    """Admins only (``AUTH_ADMIN_EMAILS``); anyone else gets the same 401 as signed out."""
    if not domain.is_admin(admin.email, settings.admin_emails):
        raise NotAuthorizedError()
    user = await uow.session.get(User, user_id)
    if user is None:
        raise NotFoundError()
    await accounts.ban(uow, user)
    await uow.commit()
    return Response(status_code=204)
