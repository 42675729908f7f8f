"""The HTTP API: health, customers, orders."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from typing import Annotated

from fastapi import Depends, FastAPI, HTTPException, Request
from pydantic import BaseModel, Field
from sqlalchemy import select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from shop_api.db import Database, make_engine
from shop_api.models import Customer, Order
from shop_api.settings import Settings


class CustomerIn(BaseModel):
    email: str = Field(max_length=320)
    name: str = Field(max_length=200)
    phone: str | None = Field(default=None, max_length=32)


class CustomerOut(CustomerIn):
    id: int


class OrderIn(BaseModel):
    total_cents: int = Field(ge=0)


class OrderOut(OrderIn):
    id: int
    customer_id: int
    status: str


def session(request: Request) -> Iterator[Session]:
    """The request's database session (closed when the response is sent)."""
    database: Database = request.app.state.db
    yield from database.session()


DbSession = Annotated[Session, Depends(session)]


def create_app(settings: Settings | None = None) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        engine = make_engine(settings or Settings.from_env())
        app.state.db = Database(engine)
        yield
        engine.dispose()

    app = FastAPI(title="shop-api", lifespan=lifespan)

    @app.get("/health")
    def health(db: DbSession) -> dict[str, str]:
        db.execute(text("SELECT 1"))
        return {"status": "ok"}

    @app.post("/customers", status_code=201)
    def create_customer(body: CustomerIn, db: DbSession) -> CustomerOut:
        customer = Customer(**body.model_dump())
        db.add(customer)
        try:
            db.commit()
        except IntegrityError:
            raise HTTPException(409, f"a customer with email {body.email} exists") from None
        return CustomerOut(id=customer.id, **body.model_dump())

    @app.post("/customers/{customer_id}/orders", status_code=201)
    def create_order(customer_id: int, body: OrderIn, db: DbSession) -> OrderOut:
        if db.get(Customer, customer_id) is None:
            raise HTTPException(404, "no such customer")
        order = Order(customer_id=customer_id, total_cents=body.total_cents)
        db.add(order)
        db.commit()
        return OrderOut(
            id=order.id, customer_id=customer_id, total_cents=order.total_cents, status=order.status
        )

    @app.get("/customers/{customer_id}/orders")
    def list_orders(customer_id: int, db: DbSession) -> list[OrderOut]:
        orders = db.scalars(
            select(Order).where(Order.customer_id == customer_id).order_by(Order.id)
        )
        return [
            OrderOut(id=o.id, customer_id=o.customer_id, total_cents=o.total_cents, status=o.status)
            for o in orders
        ]

    return app


app = create_app()
