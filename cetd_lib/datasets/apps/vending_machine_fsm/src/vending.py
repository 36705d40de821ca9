"""A vending machine modelled as a small finite state machine.

States:
    IDLE        -- no credit inserted
    COLLECTING  -- credit > 0, waiting for a selection
    SERVICE     -- operator mode; sales are disabled
"""
from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from change import ACCEPTED_COINS, make_change


class State(Enum):
    IDLE = "idle"
    COLLECTING = "collecting"
    SERVICE = "service"


class VendingError(Exception):
    """Base class for machine errors."""


class InvalidCoin(VendingError, ValueError):
    pass


class UnknownSlot(VendingError, KeyError):
    pass


class SoldOut(VendingError):
    pass


class InsufficientFunds(VendingError):
    def __init__(self, needed: int) -> None:
        super().__init__(f"insert {needed} more cents")
        self.needed = needed


class StateError(VendingError):
    pass


@dataclass
class Slot:
    name: str
    price: int
    quantity: int = 0


class VendingMachine:
    def __init__(self) -> None:
        self.slots: dict[str, Slot] = {}
        self.balance = 0
        self.state = State.IDLE
        self.sales = 0  # cents earned

    # -- operator mode --------------------------------------------------------
    def enter_service(self) -> list[int]:
        """Switch to SERVICE mode, refunding any credit first."""
        refund = self.cancel() if self.state is State.COLLECTING else []
        self.state = State.SERVICE
        return refund

    def exit_service(self) -> None:
        self._require(State.SERVICE)
        self.state = State.IDLE

    def stock(self, code: str, name: str, price: int, quantity: int) -> None:
        self._require(State.SERVICE)
        if price <= 0 or price % 5:
            raise ValueError("price must be a positive multiple of 5")
        if quantity < 0:
            raise ValueError("quantity cannot be negative")
        slot = self.slots.get(code)
        if slot is None:
            self.slots[code] = Slot(name, price, quantity)
        else:
            slot.name, slot.price = name, price
            slot.quantity += quantity

    # -- customer actions -----------------------------------------------------
    def insert(self, coin: int) -> int:
        if self.state is State.SERVICE:
            raise StateError("machine is in service mode")
        if coin not in ACCEPTED_COINS:
            raise InvalidCoin(f"coin {coin} not accepted")
        self.balance += coin
        self.state = State.COLLECTING
        return self.balance

    def select(self, code: str) -> tuple[str, list[int]]:
        """Vend the product in ``code``; return (product name, change coins)."""
        self._require(State.COLLECTING)
        slot = self.slots.get(code)
        if slot is None:
            raise UnknownSlot(code)
        if slot.quantity == 0:
            raise SoldOut(code)
        if self.balance < slot.price:
            raise InsufficientFunds(slot.price - self.balance)
        slot.quantity -= 1
        self.sales += slot.price
        change = make_change(self.balance - slot.price)
        self.balance = 0
        self.state = State.IDLE
        return slot.name, change

    def cancel(self) -> list[int]:
        if self.state is State.SERVICE:
            raise StateError("nothing to cancel in service mode")
        coins = make_change(self.balance)
        self.balance = 0
        self.state = State.IDLE
        return coins

    def _require(self, state: State) -> None:
        if self.state is not state:
            raise StateError(f"expected state {state.value}, machine is {self.state.value}")
