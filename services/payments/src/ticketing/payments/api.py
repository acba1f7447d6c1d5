"""Payments routes (DESIGN §3): ``POST /api/payments`` charges an order the caller owns.

Check the order is payable, charge it through Stripe (idempotency key derived from the order
and the card, so a double submit charges once), then settle under the order's row lock: record
the payment and publish ``payment.created`` in one unit of work, or refund if the order was
cancelled meanwhile. ``Idempotency-Key`` replays the first answer.
"""

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from ticketing.common.auth import RequiredUser
from ticketing.common.errors import BadRequestError
from ticketing.common.idempotency import IdempotencyKey, run_idempotently
from ticketing.common.service import UnitOfWorkDep
from ticketing.payments import domain
from ticketing.payments.domain import Settlement
from ticketing.payments.models import Order
from ticketing.payments.schemas import PaymentIn, PaymentOut
from ticketing.payments.settlement import recorded_payment, settle_charge
from ticketing.payments.stripe_gateway import Gateway

router = APIRouter(prefix="/api/payments", tags=["payments"])

REFUSALS = {
    Settlement.REFUND_CANCELLED: domain.CANNOT_PAY_CANCELLED,
    Settlement.REFUND_DUPLICATE: domain.ALREADY_PAID,
}


@router.post("", status_code=201, response_model=PaymentOut)
async def create_payment(
    body: PaymentIn,
    user: RequiredUser,
    uow: UnitOfWorkDep,
    gateway: Gateway,
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    async def pay() -> PaymentOut:
        order = await uow.session.get(Order, body.order_id)
        paid = await recorded_payment(uow, body.order_id) is not None
        order = domain.ensure_payable(order, by=user.id, paid=paid)
        order_id, price = order.id, order.price
        await uow.session.rollback()  # no transaction idles while Stripe answers
        intent_id = await gateway.charge(order_id=order_id, price=price, token=body.token)
        decision, payment = await settle_charge(
            uow, gateway, order_id=order_id, intent_id=intent_id
        )
        if decision in REFUSALS:
            raise BadRequestError(REFUSALS[decision])
        assert payment is not None
        return PaymentOut(id=payment.id)

    return await run_idempotently(
        uow,
        key=idempotency_key,
        user_id=user.id,
        scope="payments.create",
        request=body,
        status_code=201,
        action=pay,
    )
