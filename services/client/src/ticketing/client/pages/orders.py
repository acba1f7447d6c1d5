"""My orders, an order's page (time left to pay, Pay, Cancel) and paying for it, including
the way back from 3-D Secure."""

from __future__ import annotations

from uuid import UUID, uuid4

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import RedirectResponse

from ticketing.client import domain
from ticketing.client.api_client import UpstreamError
from ticketing.client.csrf import VerifiedForm, verified_form
from ticketing.client.forms import FormErrors, idempotency_key, text
from ticketing.client.rendering import page
from ticketing.client.schemas import AuthenticationRequired, Payment, User
from ticketing.client.session import Api, SessionCookie, SignedIn
from ticketing.common.contracts import utcnow

router = APIRouter(prefix="/orders", tags=["order pages"])

PAY_FIELDS = ("token",)
NOT_YET_PAYABLE = "This order cannot be paid just yet. Try again in a moment."


@router.get("")
async def my_orders(request: Request, user: SignedIn, api: Api, session: SessionCookie) -> Response:
    orders = await api.my_orders(session)
    now = utcnow()
    return page(
        request,
        "orders/index.html",
        user=user,
        rows=[
            (order, domain.is_payable(order, now), domain.has_expired(order, now))
            for order in orders
        ],
    )


async def _order_page(
    request: Request,
    order_id: UUID,
    user: User,
    api: Api,
    session: SessionCookie,
    *,
    errors: FormErrors | None = None,
    chosen_card: str = "",
    status_code: int = 200,
) -> Response:
    order = await api.order(session, order_id)
    now = utcnow()
    left = domain.time_left(order, now)
    return page(
        request,
        "orders/show.html",
        status_code=status_code,
        user=user,
        order=order,
        payable=domain.is_payable(order, now),
        expired=domain.has_expired(order, now),
        time_left=domain.format_time_left(left),
        seconds_left=int(left.total_seconds()),
        paid_pending=request.query_params.get("paid") == "1" and order.status != "complete",
        test_cards=domain.TEST_CARDS,
        chosen_card=chosen_card or domain.TEST_CARDS[0][0],
        idempotency_key=uuid4(),
        errors=errors or FormErrors(),
    )


@router.get("/{order_id}")
async def show_order(
    request: Request, order_id: UUID, user: SignedIn, api: Api, session: SessionCookie
) -> Response:
    return await _order_page(request, order_id, user, api, session)


@router.post("/{order_id}/pay")
async def pay_order(
    request: Request,
    order_id: UUID,
    form: VerifiedForm,
    user: SignedIn,
    api: Api,
    session: SessionCookie,
) -> Response:
    token = text(form, "token")
    try:
        outcome = await api.pay(session, order_id, token, idempotency_key=idempotency_key(form))
    except UpstreamError as exc:
        return await _payment_refused(request, order_id, user, api, session, exc, token)
    return _after_payment(order_id, outcome)


@router.get("/{order_id}/authenticated")
async def back_from_authentication(
    request: Request, order_id: UUID, user: SignedIn, api: Api, session: SessionCookie
) -> Response:
    """Stripe sends the buyer back here after 3-D Secure, whatever its outcome: payments asks
    Stripe what became of the payment (the query string proves nothing)."""
    try:
        outcome = await api.finish_authentication(session, order_id)
    except UpstreamError as exc:
        return await _payment_refused(request, order_id, user, api, session, exc, "")
    return _after_payment(order_id, outcome)


def _after_payment(order_id: UUID, outcome: Payment | AuthenticationRequired) -> Response:
    if isinstance(outcome, AuthenticationRequired):
        # The card needs 3-D Secure: to the bank's page, which returns to /authenticated.
        return RedirectResponse(outcome.next_action_url, status_code=303)
    # The order turns complete when orders hears payment.created: the page waits for it.
    return RedirectResponse(f"/orders/{order_id}?paid=1", status_code=303)


async def _payment_refused(
    request: Request,
    order_id: UUID,
    user: User,
    api: Api,
    session: SessionCookie,
    exc: UpstreamError,
    token: str,
) -> Response:
    if exc.status_code == 404:
        # Payments has not heard of an order that orders shows yet (events take a moment);
        # an order unknown everywhere becomes this page's own 404.
        problems, status_code = [{"message": NOT_YET_PAYABLE}], 409
    elif exc.status_code in (400, 409):
        problems, status_code = exc.errors, exc.status_code
    else:
        raise exc
    return await _order_page(
        request,
        order_id,
        user,
        api,
        session,
        errors=FormErrors.of(problems, PAY_FIELDS),
        chosen_card=token,
        status_code=status_code,
    )


@router.post("/{order_id}/cancel", dependencies=[Depends(verified_form)])
async def cancel_order(
    request: Request, order_id: UUID, user: SignedIn, api: Api, session: SessionCookie
) -> Response:
    try:
        await api.cancel_order(session, order_id)
    except UpstreamError as exc:
        if exc.status_code != 400:
            raise
        errors = FormErrors.of(exc.errors, ())
        return await _order_page(
            request, order_id, user, api, session, errors=errors, status_code=400
        )
    return RedirectResponse(f"/orders/{order_id}", status_code=303)
