"""The payment-provider interface, and a sandbox that behaves like a real processor.

The sandbox keeps its ledger in memory and honours idempotency keys as a processor does:
the same key returns the first result and never moves money twice. It declines amounts whose
minor units end in 402 (like a processor's test cards) and enforces the processor's own
rules: capture at most what was authorised, refund at most what was captured, no void after
capture.
"""

from __future__ import annotations

import asyncio
import secrets
from dataclasses import dataclass, field
from typing import Protocol


@dataclass(frozen=True, slots=True)
class ProviderResult:
    """What the provider answered: success, its reference, or why it refused."""

    ok: bool
    ref: str
    decline_code: str | None = None


class PaymentProvider(Protocol):
    """A card processor; every call carries an idempotency key."""

    name: str

    async def authorise(self, *, key: str, amount_minor: int, currency: str) -> ProviderResult:
        """Hold the amount on the payer's card."""

    async def capture(self, *, key: str, ref: str, amount_minor: int) -> ProviderResult:
        """Take (part of) an authorised amount."""

    async def void(self, *, key: str, ref: str) -> ProviderResult:
        """Release an authorisation that was not captured."""

    async def refund(self, *, key: str, ref: str, amount_minor: int) -> ProviderResult:
        """Return (part of) a captured amount."""


@dataclass
class SandboxCharge:
    """The sandbox's ledger entry for one authorisation."""

    ref: str
    amount_minor: int
    currency: str
    captured_minor: int = 0
    refunded_minor: int = 0
    voided: bool = False


@dataclass
class SandboxProvider:
    """An in-memory processor with idempotency keys; `calls` counts money movements."""

    name: str = "sandbox"
    charges: dict[str, SandboxCharge] = field(default_factory=dict)
    results: dict[str, ProviderResult] = field(default_factory=dict)
    moves: int = 0
    _lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    async def _once(self, key: str, act: object) -> ProviderResult:
        async with self._lock:
            if key not in self.results:
                result = act()  # type: ignore[operator]
                assert isinstance(result, ProviderResult)
                self.results[key] = result
            return self.results[key]

    def _refuse(self, ref: str, code: str) -> ProviderResult:
        return ProviderResult(ok=False, ref=ref, decline_code=code)

    async def authorise(self, *, key: str, amount_minor: int, currency: str) -> ProviderResult:
        """Hold the amount unless it ends in 402."""
        def act() -> ProviderResult:
            ref = f"ch_{secrets.token_hex(10)}"
            if amount_minor % 1000 == 402:
                return self._refuse(ref, "card_declined")
            self.charges[ref] = SandboxCharge(ref, amount_minor, currency)
            self.moves += 1
            return ProviderResult(ok=True, ref=ref)
        return await self._once(key, act)

    async def capture(self, *, key: str, ref: str, amount_minor: int) -> ProviderResult:
        """Capture once, at most the authorised amount."""
        def act() -> ProviderResult:
            charge = self.charges.get(ref)
            if charge is None or charge.voided or charge.captured_minor:
                return self._refuse(ref, "not_capturable")
            if amount_minor > charge.amount_minor:
                return self._refuse(ref, "amount_too_large")
            charge.captured_minor = amount_minor
            self.moves += 1
            return ProviderResult(ok=True, ref=ref)
        return await self._once(key, act)

    async def void(self, *, key: str, ref: str) -> ProviderResult:
        """Release an uncaptured authorisation."""
        def act() -> ProviderResult:
            charge = self.charges.get(ref)
            if charge is None or charge.captured_minor:
                return self._refuse(ref, "not_voidable")
            charge.voided = True
            return ProviderResult(ok=True, ref=ref)
        return await self._once(key, act)

    async def refund(self, *, key: str, ref: str, amount_minor: int) -> ProviderResult:
        """Refund, never beyond what was captured."""
        def act() -> ProviderResult:
            charge = self.charges.get(ref)
            if charge is None or charge.refunded_minor + amount_minor > charge.captured_minor:
                return self._refuse(ref, "refund_exceeds_captured")
            charge.refunded_minor += amount_minor
            self.moves += 1
            return ProviderResult(ok=True, ref=f"re_{secrets.token_hex(10)}")
        return await self._once(key, act)
