"""Orders routes (DESIGN §3): place, list, show and cancel orders."""

from datetime import timedelta
from uuid import UUID

from fastapi import APIRouter, Response
from fastapi.responses import JSONResponse

from ticketing.common.auth import RequiredUser
from ticketing.common.idempotency import Idempotent
from ticketing.common.service import UnitOfWorkDep
from ticketing.orders import domain, use_cases
from ticketing.orders.config import Settings
from ticketing.orders.schemas import OrderIn, OrderOut

router = APIRouter(prefix="/api/orders", tags=["orders"])


@router.post("", status_code=201, response_model=OrderOut)
async def place_order(body: OrderIn, settings: Settings, call: Idempotent) -> JSONResponse:
    async def reserve() -> OrderOut:
        order = await use_cases.place_order(
            call.uow,
            user_id=call.user_id,
            ticket_id=body.ticket_id,
            window=timedelta(seconds=settings.expiration_window_seconds),
            max_unpaid_orders=settings.max_unpaid_orders,
        )
        return OrderOut.model_validate(order)

    lock = use_cases.buyer_lock(call.user_id)  # taken with the key's claim, if there is one
    return await call.run("orders.place", body, status_code=201, action=reserve, lock=lock)


@router.get("", response_model=list[OrderOut])
async def list_orders(user: RequiredUser, uow: UnitOfWorkDep) -> list[OrderOut]:
    return [OrderOut.model_validate(order) for order in await use_cases.orders_of(uow, user.id)]


@router.get("/{order_id}", response_model=OrderOut)
async def show_order(order_id: UUID, user: RequiredUser, uow: UnitOfWorkDep) -> OrderOut:
    order = await use_cases.get_order(uow, order_id)
    domain.ensure_owner(order, user.id)
    return OrderOut.model_validate(order)


@router.delete("/{order_id}", status_code=204, response_class=Response)
async def cancel_order(order_id: UUID, user: RequiredUser, uow: UnitOfWorkDep) -> Response:
    order = await use_cases.get_order(uow, order_id, lock=True)
    domain.ensure_owner(order, user.id)
    if await use_cases.cancel_order(uow, order):
        await uow.commit()
    return Response(status_code=204)
