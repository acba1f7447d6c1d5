"""Payments routes (DESIGN §3): pay for an order the caller owns, and finish a payment once
the buyer is back from 3-D Secure. The rules live in ``charging``; ``Idempotency-Key`` replays
the first final answer (``common.idempotency``)."""

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from ticketing.common.auth import RequiredUser
from ticketing.common.idempotency import Idempotent, Reply
from ticketing.common.service import UnitOfWorkDep
from ticketing.payments import charging
from ticketing.payments.charging import Outcome, Paid
from ticketing.payments.config import Settings
from ticketing.payments.schemas import AuthenticatedIn, PaymentIn, PaymentOut, RequiresActionOut
from ticketing.payments.stripe_gateway import Gateway

router = APIRouter(prefix="/api/payments", tags=["payments"])

PAYMENT_RESPONSES: dict[int | str, dict[str, object]] = {
    202: {"model": RequiresActionOut, "description": "The card needs authentication"},
}


def _reply(outcome: Outcome) -> Reply:
    if isinstance(outcome, Paid):
        return Reply(201, PaymentOut(id=outcome.payment_id))
    return Reply(202, RequiresActionOut(next_action_url=outcome.next_action_url))


@router.post("", status_code=201, response_model=PaymentOut, responses=PAYMENT_RESPONSES)
async def create_payment(
    body: PaymentIn, gateway: Gateway, settings: Settings, call: Idempotent
) -> JSONResponse:
    async def pay() -> Reply:
        outcome = await charging.pay(
            call.uow,
            gateway,
            settings,
            order_id=body.order_id,
            buyer=call.user_id,
            token=body.token,
        )
        return _reply(outcome)

    return await call.run("payments.create", body, status_code=201, action=pay)


@router.post(
    "/authenticated", status_code=201, response_model=PaymentOut, responses=PAYMENT_RESPONSES
)
async def payment_authenticated(
    body: AuthenticatedIn, user: RequiredUser, uow: UnitOfWorkDep, gateway: Gateway
) -> JSONResponse:
    """The buyer is back from 3-D Secure (no Idempotency-Key: asking again changes nothing)."""
    outcome = await charging.settle_authenticated(
        uow, gateway, order_id=body.order_id, buyer=user.id
    )
    await uow.commit()
    reply = _reply(outcome)
    return JSONResponse(status_code=reply.status_code, content=reply.body.to_json())
