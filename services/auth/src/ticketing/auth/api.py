"""Auth routes (DESIGN §3): signup, signin, signout, currentuser."""

from datetime import timedelta

from fastapi import APIRouter, Response
from fastapi.concurrency import run_in_threadpool
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from ticketing.auth import domain
from ticketing.auth.config import AuthSettings, Settings
from ticketing.auth.models import User
from ticketing.auth.schemas import Credentials, CurrentUserOut, SignInCredentials, UserOut
from ticketing.common.auth import (
    CurrentUser,
    OptionalUser,
    clear_session_cookie,
    set_session_cookie,
    sign_session_token,
)
from ticketing.common.errors import BadRequestError, FieldError
from ticketing.common.events import UserCreated, UserCreatedData
from ticketing.common.service import UnitOfWorkDep

router = APIRouter(prefix="/api/users", tags=["users"])

INVALID_CREDENTIALS = "Invalid credentials"


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
    body: Credentials, response: Response, uow: UnitOfWorkDep, settings: Settings
) -> UserOut:
    password_hash = await run_in_threadpool(domain.hash_password, body.password)
    user = User(email=body.email, password_hash=password_hash)
    uow.session.add(user)
    try:
        await uow.session.flush()
    except IntegrityError as exc:
        raise FieldError("email", "Email in use") from exc
    uow.publish(UserCreated(data=UserCreatedData(id=user.id, email=user.email)))
    await uow.commit()
    return _start_session(response, user, settings)


@router.post("/signin", response_model=UserOut)
async def sign_in(
    body: SignInCredentials, response: Response, uow: UnitOfWorkDep, settings: Settings
) -> UserOut:
    user = await uow.session.scalar(
        select(User).where(func.lower(User.email) == body.email.strip().lower())
    )
    matches = await run_in_threadpool(
        domain.verify_password, user.password_hash if user else None, body.password
    )
    if user is None or not matches or user.banned_at is not None:
        raise BadRequestError(INVALID_CREDENTIALS)
    return _start_session(response, user, settings)


@router.post("/signout")
async def sign_out(response: Response, settings: Settings) -> dict[str, str]:
    clear_session_cookie(response, secure=settings.cookie_secure)
    return {}


@router.get("/currentuser", response_model=CurrentUserOut)
async def current_user(user: OptionalUser) -> CurrentUserOut:
    if user is None:
        return CurrentUserOut(current_user=None)
    return CurrentUserOut(current_user=UserOut(id=user.id, email=user.email))
