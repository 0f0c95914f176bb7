"""Deterministic generation of a realistic pet-supply shop for the emulator.

Same arguments (including ``now``) give the same store, id for id. What it produces:

* a catalogue in five categories (plus core's ``Uncategorized``), two variable products;
* customers with billing addresses; ~70% carry a ``birthday`` (``YYYY-MM-DD``) meta;
  they buy with a Pareto-like skew, so a few customers place many orders;
* orders spread over ``period_days`` before ``now`` (busier in Nov/Dec and evenings),
  ~10% guest orders (``customer_id`` 0; some with an e-mail that belongs to a registered
  customer), mostly ``completed``/``processing`` with some ``cancelled``/``failed``/
  ``pending``/``on-hold``; coupons on a few orders;
* ~8% of paid orders refunded: partial by amount, partial by line item (negative lines
  with ``_refunded_item_id``), or in full (status ``refunded``).

Order, refund, product and coupon ids share one increasing "post" sequence with small gaps,
as on a real WordPress site, so ids are not contiguous.
"""

from __future__ import annotations

import string
import unicodedata
from bisect import bisect
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo
from datetime import timezone as dt_timezone
from decimal import Decimal
from itertools import accumulate
from random import Random
from typing import Any

from .models import ZERO, Address, Product, money
from .store import ClockLike, WooStore

__all__ = ["generate_store"]

_FIRST = [
    "Anna",
    "Ben",
    "Clara",
    "David",
    "Emma",
    "Felix",
    "Greta",
    "Hannah",
    "Jonas",
    "Julia",
    "Karl",
    "Lena",
    "Lukas",
    "Marie",
    "Max",
    "Mia",
    "Noah",
    "Olivia",
    "Paul",
    "Sophie",
    "Jürgen",
    "Zoë",
    "Chloé",
    "Søren",
    "Élodie",
    "Mateo",
    "Lucía",
    "Aylin",
    "Mehmet",
    "Fatima",
    "Liam",
    "Amelia",
    "Oliver",
    "Isla",
    "Tom",
    "Lisa",
    "Nina",
    "Jan",
    "Eva",
    "Finn",
]
_LAST = [
    "Müller",
    "Schmidt",
    "Schneider",
    "Fischer",
    "Weber",
    "Meyer",
    "Wagner",
    "Becker",
    "Schulz",
    "Hoffmann",
    "Koch",
    "Richter",
    "Klein",
    "Wolf",
    "Schröder",
    "Neumann",
    "de Vries",
    "Jansen",
    "Dubois",
    "Martin",
    "García",
    "Rossi",
    "Nowak",
    "Novák",
    "Yılmaz",
    "Smith",
    "O'Brien",
    "Andersen",
    "Nielsen",
    "Lindqvist",
    "Kovács",
    "Horvat",
    "Peeters",
    "Janssens",
    "Bauer",
    "Vogel",
    "Krüger",
    "Hartmann",
    "Lange",
    "Frank",
]
_CITIES = [
    ("Berlin", "10115", "DE", "+49 30"),
    ("Hamburg", "20095", "DE", "+49 40"),
    ("München", "80331", "DE", "+49 89"),
    ("Köln", "50667", "DE", "+49 221"),
    ("Leipzig", "04109", "DE", "+49 341"),
    ("Wien", "1010", "AT", "+43 1"),
    ("Graz", "8010", "AT", "+43 316"),
    ("Amsterdam", "1012 JS", "NL", "+31 20"),
    ("Utrecht", "3511 AA", "NL", "+31 30"),
    ("Paris", "75001", "FR", "+33 1"),
    ("Lyon", "69001", "FR", "+33 4"),
    ("Bruxelles", "1000", "BE", "+32 2"),
    ("Zürich", "8001", "CH", "+41 44"),
]
_STREETS = [
    "Hauptstraße",
    "Gartenweg",
    "Lindenallee",
    "Bahnhofstraße",
    "Schulstraße",
    "Kerkstraat",
    "Rue de la Paix",
    "Am Markt",
    "Birkenweg",
    "Mühlgasse",
    "Prinsengracht",
    "Rosenstraße",
]
_DOMAINS = ["example.com", "example.net", "example.org", "mail.example"]
_USER_AGENTS = [
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/124.0.0.0 Safari/537.36",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like "
    "Gecko) Version/17.4 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/17.4 Safari/605.1.15",
    "Mozilla/5.0 (X11; Linux x86_64; rv:125.0) Gecko/20100101 Firefox/125.0",
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/124.0.0.0 Mobile Safari/537.36",
]
_PAYMENTS = [("stripe", 55), ("ppcp-gateway", 25), ("bacs", 12), ("cod", 8)]
_REFUND_REASONS = [
    "",
    "",
    "Damaged in transit",
    "Customer changed mind",
    "Wrong size",
    "Item out of stock",
    "Duplicate order",
]

# (category, name, price, sku, pet, popularity, virtual)
_CATALOGUE: list[tuple[str, str, str, str, str, int, bool]] = [
    ("Cat food", "Salmon Pâté for Cats 12x85g", "13.99", "CF-001", "cat", 9, False),
    ("Cat food", "Chicken Kibble for Cats 2kg", "18.49", "CF-002", "cat", 8, False),
    ("Cat food", "Senior Cat Dry Food 4kg", "31.90", "CF-003", "cat", 4, False),
    ("Cat food", "Tuna Treats for Cats", "3.49", "CF-004", "cat", 7, False),
    ("Cat food", "Grain-free Duck Terrine 6x200g", "11.95", "CF-005", "cat", 5, False),
    ("Dog food", "Lamb & Rice Adult Dog Food", "0", "DF-001", "dog", 9, False),
    ("Dog food", "Puppy Starter Kibble 3kg", "24.99", "DF-002", "dog", 5, False),
    ("Dog food", "Beef Chunks in Gravy 6x400g", "14.49", "DF-003", "dog", 7, False),
    ("Dog food", "Dental Chews Large 28 pcs", "19.99", "DF-004", "dog", 6, False),
    ("Dog food", "Training Treats Liver 200g", "4.79", "DF-005", "dog", 8, False),
    ("Toys", "Feather Wand Cat Teaser", "6.99", "TY-001", "cat", 6, False),
    ("Toys", "Rope Tug Toy XL", "9.49", "TY-002", "dog", 5, False),
    ("Toys", "Squeaky Hedgehog Plush", "7.99", "TY-003", "dog", 5, False),
    ("Toys", "Laser Pointer Mouse", "12.50", "TY-004", "cat", 3, False),
    ("Toys", "Interactive Puzzle Feeder", "24.90", "TY-005", "both", 3, False),
    ("Accessories", "Reflective Dog Harness", "0", "AC-001", "dog", 4, False),
    ("Accessories", "Stainless Steel Bowl Set", "15.99", "AC-002", "both", 4, False),
    ("Accessories", "Clumping Cat Litter 10l", "8.99", "AC-003", "cat", 8, False),
    ("Accessories", "Scratching Post 80cm", "39.00", "AC-004", "cat", 2, False),
    ("Accessories", "Orthopedic Dog Bed", "79.00", "AC-005", "dog", 2, False),
    ("Accessories", "Travel Carrier", "49.95", "AC-006", "both", 1, False),
    ("Gift cards", "Gift Card 25", "25.00", "GC-025", "both", 2, True),
    ("Gift cards", "Gift Card 50", "50.00", "GC-050", "both", 1, True),
]
_VARIATIONS: dict[str, list[tuple[str, str, str]]] = {
    "DF-001": [("2kg", "12.99", "DF-001-2"), ("12kg", "54.90", "DF-001-12")],
    "AC-001": [("S", "21.99", "AC-001-S"), ("M", "23.99", "AC-001-M"), ("L", "25.99", "AC-001-L")],
}
_MONTH_WEIGHT = {
    1: 0.9,
    2: 0.85,
    3: 0.95,
    4: 0.95,
    5: 1.0,
    6: 0.95,
    7: 0.9,
    8: 0.9,
    9: 1.0,
    10: 1.05,
    11: 1.35,
    12: 1.45,
}
_HOUR_WEIGHTS = [1, 1, 1, 1, 1, 1, 2, 4, 6, 7, 7, 8, 9, 8, 7, 7, 8, 9, 11, 13, 14, 12, 8, 4]


class _Table:
    """A weighted choice table; :meth:`pick` is a cheap ``random.choices(...)[0]``."""

    __slots__ = ("cum", "total", "values")

    def __init__(self, pairs: Sequence[tuple[Any, float]]) -> None:
        self.values = [value for value, _ in pairs]
        self.cum = list(accumulate(weight for _, weight in pairs))
        self.total = self.cum[-1]

    def pick(self, rng: Random) -> Any:
        return self.values[bisect(self.cum, rng.random() * self.total)]


_HOURS = _Table(list(enumerate(_HOUR_WEIGHTS)))
_PETS = _Table([("cat", 45), ("dog", 40), ("both", 15)])
_LINES = _Table([(1, 50), (2, 30), (3, 15), (4, 5)])
_QUANTITIES = _Table([(1, 72), (2, 18), (3, 7), (6, 3)])
_PAYMENT_TABLE = _Table(_PAYMENTS)
_REFUND_KINDS = _Table([("amount", 45), ("item", 30), ("full", 25)])
_RECENT = _Table(
    [("processing", 55), ("pending", 12), ("on-hold", 13), ("completed", 14), ("failed", 6)]
)
_RECENT_BACS = _Table([("on-hold", 60), ("processing", 20), ("pending", 10), ("failed", 10)])
_SETTLED = _Table(
    [
        ("completed", 86),
        ("cancelled", 5),
        ("failed", 3),
        ("processing", 2),
        ("on-hold", 2),
        ("pending", 2),
    ]
)


@dataclass(slots=True)
class _Person:
    first: str
    last: str
    email: str
    address: Address
    pet: str


@dataclass(slots=True)
class _Spec:
    at: datetime
    kind: str  # "order" | "refund"
    seq: int
    data: dict[str, Any]


def _ascii(text: str) -> str:
    folded = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return "".join(ch for ch in folded.lower() if ch.isalnum())


def _person(rng: Random, used: set[str]) -> _Person:
    first, last = rng.choice(_FIRST), rng.choice(_LAST)
    base = f"{_ascii(first)}.{_ascii(last)}"
    domain = rng.choice(_DOMAINS)
    email = f"{base}@{domain}"
    n = 1
    while email in used:
        n += 1
        email = f"{base}{n}@{domain}"
    used.add(email)
    city, postcode, country, prefix = rng.choice(_CITIES)
    address = Address(
        first_name=first,
        last_name=last,
        company="" if rng.random() < 0.93 else f"{last} GmbH",
        address_1=f"{rng.choice(_STREETS)} {rng.randint(1, 160)}",
        address_2="" if rng.random() < 0.85 else f"{rng.randint(1, 5)}. OG",
        city=city,
        state="",
        postcode=postcode,
        country=country,
        email=email,
        phone=f"{prefix} {rng.randint(1000000, 9999999)}",
    )
    pet: str = _PETS.pick(rng)
    return _Person(first, last, email, address, pet)


def _transaction_id(rng: Random, method: str) -> str:
    alphabet = string.ascii_letters + string.digits
    if method == "stripe":
        return "pi_" + "".join(rng.choices(alphabet, k=24))
    if method == "ppcp-gateway":
        return "".join(rng.choices(string.ascii_uppercase + string.digits, k=17))
    return ""


def _order_times(rng: Random, count: int, start: datetime, now: datetime) -> list[datetime]:
    span = (now - start).total_seconds()
    days = max(1, int(span // 86400))
    out: list[datetime] = []
    while len(out) < count:
        day = start + timedelta(days=rng.randrange(days))
        if rng.random() * 1.45 > _MONTH_WEIGHT[day.month]:
            continue
        hour: int = _HOURS.pick(rng)
        moment = day.replace(hour=hour, minute=rng.randrange(60), second=rng.randrange(60))
        if start <= moment < now:
            out.append(moment)
    out.sort()
    return out


def _status_for(rng: Random, age: timedelta, method: str) -> str:
    recent = _RECENT_BACS if method == "bacs" else _RECENT
    chosen: str = (recent if age < timedelta(days=2) else _SETTLED).pick(rng)
    return chosen


def generate_store(
    orders: int = 1000,
    *,
    customers: int | None = None,
    seed: int = 0,
    now: datetime | None = None,
    period_days: int = 365,
    currency: str = "EUR",
    timezone: tzinfo | None = None,
    guest_share: float = 0.10,
    refund_share: float = 0.08,
    birthday_share: float = 0.70,
    coupon_share: float = 0.07,
    tax_rate: Decimal = Decimal("0.19"),
    clock: ClockLike | None = None,
) -> WooStore:
    """Build a :class:`WooStore` full of realistic, reproducible shop data.

    Args:
        orders: number of orders to place.
        customers: registered customers (default: a quarter of ``orders``, at least 10).
        seed: seed of every random draw.
        now: end of the generated period (default: the wall clock; pass a fixed time for
            byte-identical output).
        period_days: orders are spread over this many days before ``now``.
        currency: ISO code on every order.
        timezone: site timezone (default UTC+1).
        guest_share: share of guest orders (``customer_id`` 0).
        refund_share: share of paid orders that get a refund.
        birthday_share: share of customers with a ``birthday`` meta.
        coupon_share: share of orders that use a coupon.
        tax_rate: the one tax rate of the shop (0 for no tax).
        clock: clock for later mutations (default: the wall clock).
    """
    rng = Random(seed)
    end = (now or datetime.now(UTC)).astimezone(UTC).replace(microsecond=0)
    start = end - timedelta(days=period_days)
    store = WooStore(
        currency=currency,
        timezone=timezone or dt_timezone(timedelta(hours=1)),
        clock=clock,
        tax_rate=tax_rate,
        rng_seed=seed,
    )
    setup_at = start - timedelta(days=400)

    # Catalogue -------------------------------------------------------------------------
    store.add_category("Uncategorized", "uncategorized")
    categories = {
        name: store.add_category(name).id
        for name in ("Cat food", "Dog food", "Toys", "Accessories", "Gift cards")
    }
    sellable: list[tuple[Product, str, int]] = []
    for cat, name, price, sku, pet, popularity, virtual in _CATALOGUE:
        variations = [(o, Decimal(p), s) for o, p, s in _VARIATIONS.get(sku, [])]
        product = store.add_product(
            name,
            Decimal(price),
            [categories[cat]],
            sku=sku,
            virtual=virtual,
            tax_status="none" if cat == "Gift cards" else "taxable",
            variations=variations,
            attribute_name="Size",
            at=setup_at,
        )
        if product.variations:
            for var_id in product.variations:
                var = store.get_product(var_id)
                assert var is not None
                sellable.append((var, pet, popularity))
        else:
            sellable.append((product, pet, popularity))
    pools: dict[str, tuple[list[Product], list[int]]] = {}
    for pet in ("cat", "dog", "both"):
        chosen = [(p, pop) for p, ppet, pop in sellable if pet == "both" or ppet in (pet, "both")]
        pools[pet] = ([p for p, _ in chosen], list(accumulate(pop for _, pop in chosen)))

    # Coupons ---------------------------------------------------------------------------
    store.create_coupon(
        {
            "code": "welcome10",
            "amount": "10",
            "discount_type": "percent",
            "individual_use": True,
            "usage_limit_per_user": 1,
            "description": "10% off the first order",
        },
        at=setup_at,
        fire=False,
    )
    store.create_coupon(
        {
            "code": "summer5",
            "amount": "5.00",
            "discount_type": "fixed_cart",
            "minimum_amount": "30.00",
            "description": "5 off from 30",
        },
        at=setup_at,
        fire=False,
    )
    store.create_coupon(
        {
            "code": "blackfriday20",
            "amount": "20",
            "discount_type": "percent",
            "date_expires": (end - timedelta(days=10))
            .astimezone(store.timezone)
            .strftime("%Y-%m-%d"),
            "description": "Black Friday",
        },
        at=setup_at,
        fire=False,
    )
    coupon_choices = ["welcome10", "summer5", "blackfriday20"]

    # People ----------------------------------------------------------------------------
    n_customers = customers if customers is not None else max(10, orders // 4)
    used_emails: set[str] = set()
    people = [_person(rng, used_emails) for _ in range(n_customers)]
    weights = [min(rng.paretovariate(1.16), 120.0) for _ in range(n_customers)]
    cum_weights = list(accumulate(weights))

    times = _order_times(rng, orders, start, end)
    is_guest = [rng.random() < guest_share or not people for _ in times]
    buyers = (
        rng.choices(range(n_customers), cum_weights=cum_weights, k=len(times))
        if people
        else [0] * len(times)
    )
    first_order: dict[int, datetime] = {}
    last_order: dict[int, datetime] = {}
    for moment, guest, buyer in zip(times, is_guest, buyers, strict=True):
        if not guest:
            first_order.setdefault(buyer, moment)
            last_order[buyer] = moment

    registrations: list[tuple[datetime, int]] = []
    for idx in range(n_customers):
        if idx in first_order:
            reg = first_order[idx] - timedelta(seconds=rng.randint(0, 60 * 86400))
        else:
            reg = (
                start
                - timedelta(days=365)
                + timedelta(
                    seconds=rng.randint(0, int((end - start).total_seconds()) + 365 * 86400 - 1)
                )
            )
        registrations.append((min(reg, end), idx))
    registrations.sort()
    customer_ids: dict[int, int] = {}
    for reg, idx in registrations:
        person = people[idx]
        meta: dict[str, Any] = {}
        if rng.random() < birthday_share:
            years = rng.randint(18, 80)
            birthday = datetime(end.year - years, rng.randint(1, 12), rng.randint(1, 28))
            meta["birthday"] = birthday.strftime("%Y-%m-%d")
        customer = store.create_customer(
            person.email,
            person.first,
            person.last,
            billing=person.address,
            username=person.email.split("@", 1)[0],
            meta=meta,
            at=reg,
            fire=False,
        )
        customer_ids[idx] = customer.id

    guest_pool: list[_Person] = [
        _person(rng, used_emails) for _ in range(max(1, int(sum(is_guest) * 0.7)))
    ]

    # Orders and refunds, in time order so that post ids grow with time -----------------
    specs: list[_Spec] = []
    orders_of: dict[int, int] = {}
    for seq, (moment, guest, buyer) in enumerate(
        zip(times, is_guest, buyers, strict=True), start=1
    ):
        customer_id = 0
        if guest:
            if people and rng.random() < 0.3:
                person = people[rng.randrange(n_customers)]
            else:
                person = guest_pool[int(rng.paretovariate(1.5) * 3) % len(guest_pool)]
        else:
            person = people[buyer]
            customer_id = customer_ids[buyer]
        products, cum = pools[person.pet]
        n_lines: int = _LINES.pick(rng)
        picked: dict[int, int] = {}
        for product in rng.choices(products, cum_weights=cum, k=n_lines):
            qty: int = _QUANTITIES.pick(rng)
            picked[product.id] = picked.get(product.id, 0) + qty
        method: str = _PAYMENT_TABLE.pick(rng)
        age = end - moment
        status = _status_for(rng, age, method)
        coupon_code = None
        if rng.random() < coupon_share:
            code = rng.choice(coupon_choices)
            subtotal = sum(
                (p.regular_price * q for p in products if (q := picked.get(p.id, 0))), ZERO
            )
            n_prev = orders_of.get(customer_id, 0) if customer_id else 0
            if (
                (code == "welcome10" and customer_id and n_prev == 0)
                or (code == "summer5" and subtotal >= Decimal("30"))
                or (
                    code == "blackfriday20"
                    and moment.month == 11
                    and moment.day >= 20
                    and age > timedelta(days=10)
                )
            ):
                coupon_code = code
        if customer_id:
            orders_of[customer_id] = orders_of.get(customer_id, 0) + 1
        paid_at = completed_at = None
        if status in ("processing", "completed"):
            delay = (
                timedelta(days=rng.randint(1, 3))
                if method == "bacs"
                else timedelta(seconds=rng.randint(5, 90))
            )
            paid_at = min(moment + delay, end)
        if status == "completed":
            assert paid_at is not None
            completed_at = min(paid_at + timedelta(hours=rng.randint(2, 96)), end)
        modified = completed_at or paid_at or moment + timedelta(seconds=rng.randint(1, 600))
        if rng.random() < 0.03:
            modified += timedelta(days=rng.randint(1, 30), seconds=rng.randint(0, 86400))
        modified = min(modified, end)
        specs.append(
            _Spec(
                moment,
                "order",
                seq,
                {
                    "items": list(picked.items()),
                    "customer_id": customer_id,
                    "billing": person.address,
                    "status": status,
                    "coupon_code": coupon_code,
                    "payment_method": method,
                    "transaction_id": _transaction_id(rng, method) if paid_at else "",
                    "paid_at": paid_at,
                    "completed_at": completed_at,
                    "modified_at": modified,
                    "ip": f"203.0.113.{rng.randint(1, 254)}"
                    if rng.random() < 0.8
                    else f"2001:db8::{rng.randint(1, 0xFFFF):x}",
                    "ua": rng.choice(_USER_AGENTS),
                    "note": "" if rng.random() < 0.95 else "Please leave at the door.",
                },
            )
        )
        # Only paid orders are refunded and a few refunds fall after ``now``: scale up.
        if status in ("completed", "processing") and rng.random() < refund_share / 0.8:
            base = completed_at or paid_at or moment
            refund_at = base + timedelta(days=rng.randint(1, 20), seconds=rng.randint(0, 86400))
            if refund_at < end:
                kind: str = _REFUND_KINDS.pick(rng)
                specs.append(
                    _Spec(
                        refund_at,
                        "refund",
                        seq,
                        {"kind": kind, "reason": rng.choice(_REFUND_REASONS)},
                    )
                )

    specs.sort(key=lambda s: (s.at, 0 if s.kind == "order" else 1, s.seq))
    order_ids: dict[int, int] = {}
    for spec in specs:
        data = spec.data
        if spec.kind == "order":
            if rng.random() < 0.1:
                store.next_id("posts", gap=rng.randint(1, 3))  # revisions, media, ...
            order = store.create_order(
                data["items"],
                customer_id=data["customer_id"],
                billing=data["billing"],
                status=data["status"],
                coupon_code=data["coupon_code"],
                payment_method=data["payment_method"],
                transaction_id=data["transaction_id"],
                customer_note=data["note"],
                meta={"is_vat_exempt": "no"},
                customer_ip_address=data["ip"],
                customer_user_agent=data["ua"],
                created_at=spec.at,
                paid_at=data["paid_at"],
                completed_at=data["completed_at"],
                modified_at=data["modified_at"],
                fire=False,
            )
            order_ids[spec.seq] = order.id
            continue
        order_id = order_ids[spec.seq]
        placed = store.get_order(order_id)
        assert placed is not None
        kind = data["kind"]
        multi = [li for li in placed.line_items if li.quantity > 1] or (
            placed.line_items if len(placed.line_items) > 1 else []
        )
        if kind == "full":
            store.refund_order(
                order_id, reason=data["reason"], refund_shipping=True, at=spec.at, fire=False
            )
        elif kind == "item" and multi:
            item = rng.choice(multi)
            store.refund_order(
                order_id, line_items={item.id: 1}, reason=data["reason"], at=spec.at, fire=False
            )
        else:
            share = Decimal(rng.choice([10, 15, 20, 25, 30, 50])) / 100
            amount = max(money(placed.total * share), Decimal("1.00"))
            if amount < placed.total:
                store.refund_order(
                    order_id, amount=amount, reason=data["reason"], at=spec.at, fire=False
                )

    # Customers were saved at checkout: their date_modified is their last order.
    for idx, customer_id in customer_ids.items():
        registered = store.get_customer(customer_id)
        if registered is not None and idx in last_order:
            stamp = store.stamp(max(last_order[idx], registered.date_created.aware))
            registered.date_modified = stamp
    return store
