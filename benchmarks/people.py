"""Who writes the generated mail: the shop, three customers and their people, the parts quoted,
and the phrases each kind of message is made of."""

from __future__ import annotations

from dataclasses import dataclass

SHOP_ADDRESS = "quotes@printshop.example"
SHOP_NAME = "Printshop Quotes"
SHOP_SIGNATURE = (
    "Best regards,",
    "Rosa Delgado",
    "Printshop Example - Quotes",
    "1180 Foundry Rd, Unit 4, Dayton, OH 45402",
    f"(937) 555-0142 | {SHOP_ADDRESS}",
)


@dataclass(frozen=True)
class Person:
    """A customer's employee: `role` as in `[[contacts]]` ("other" is not in the directory),
    `client` is how their mail program quotes (gmail, outlook, iphone)."""

    name: str
    email: str
    role: str
    client: str
    signature: tuple[str, ...]
    utc_offset: int

    @property
    def first(self) -> str:
        return self.name.split()[0]


@dataclass(frozen=True)
class Company:
    domain: str
    people: tuple[Person, ...]
    disclaimer: str = ""


@dataclass(frozen=True)
class Part:
    name: str
    short: str
    file: str
    revisions: tuple[str, ...]
    material: str
    unit_prices: tuple[tuple[int, float], ...]
    pack: int


ACME = Company(
    "acme-robotics.example",
    (
        Person(
            "Lee Park",
            "lee.park@acme-robotics.example",
            "purchasing",
            "outlook",
            (
                "Lee Park",
                "Purchasing Lead | Acme Robotics",
                "4400 Industrial Pkwy, Suite 200, Columbus, OH 43219",
                "Direct: (614) 555-0187 | Mobile: (614) 555-0122",
            ),
            -5,
        ),
        Person(
            "Dana Ortiz",
            "dana.ortiz@acme-robotics.example",
            "technical",
            "iphone",
            (
                "Dana Ortiz",
                "Mechanical Engineer, Gripper Team",
                "Acme Robotics | +1 614 555 0139",
            ),
            -5,
        ),
        Person(
            "Tom Reyes",
            "t.reyes@acme-robotics.example",
            "other",
            "outlook",
            ("Tom Reyes", "Production Supervisor, Line 2", "Acme Robotics"),
            -5,
        ),
    ),
    "This message may contain confidential information of Acme Robotics, Inc. If you are not "
    "the intended recipient, please delete it. Acme Robotics, 4400 Industrial Pkwy, Columbus, "
    "OH 43219.",
)
NORTHWIND = Company(
    "northwind-fixtures.example",
    (
        Person(
            "Sam Whitaker",
            "sam.whitaker@northwind-fixtures.example",
            "owner",
            "gmail",
            (
                "--",
                "Sam Whitaker",
                "Owner, Northwind Fixtures",
                "212 Mill St, Unit 3, Grand Rapids, MI 49503",
            ),
            -5,
        ),
        Person(
            "Priya Nair",
            "priya.nair@northwind-fixtures.example",
            "technical",
            "outlook",
            ("Priya Nair | Manufacturing Engineer", "Northwind Fixtures", "T: 616.555.0175"),
            -5,
        ),
        Person(
            "Björn Åkesson",
            "bjorn.akesson@northwind-fixtures.example",
            "other",
            "gmail",
            ("Björn Åkesson", "Accounts payable, Northwind Fixtures"),
            1,
        ),
    ),
)
BLUEFIN = Company(
    "bluefin-medical.example",
    (
        Person(
            "Jordan Chen",
            "j.chen@bluefin-medical.example",
            "purchasing",
            "gmail",
            (
                "Jordan Chen",
                "Senior Buyer, Supply Chain",
                "Bluefin Medical Devices, Inc.",
                "85 Harbor Loop, Building C, Portland, ME 04101",
            ),
            -5,
        ),
        Person(
            "Marta Kowalski",
            "m.kowalski@bluefin-medical.example",
            "technical",
            "outlook",
            ("Marta Kowalski, PhD", "R&D Engineer - Fluidics", "Bluefin Medical Devices, Inc."),
            -5,
        ),
    ),
    "CONFIDENTIALITY NOTICE: This e-mail and any attachments are intended solely for the "
    "addressee(s) and may contain confidential or privileged information. If you received this "
    "message in error, please notify the sender and delete it.",
)
COMPANIES = (ACME, NORTHWIND, BLUEFIN)
CUSTOMER_DOMAINS = tuple(c.domain for c in COMPANIES)
# the [[contacts]] directory of the benchmark config: everyone but the "other" people
CONTACTS = tuple(p for c in COMPANIES for p in c.people if p.role != "other")

PARTS = (
    Part(
        "PETG gripper brackets",
        "brackets",
        "bracket_v3.step",
        ("C7", "C8", "D1"),
        "black PETG, 0.2 mm layer height, 4 perimeters, 40% gyroid",
        ((25, 6.40), (150, 4.85), (500, 3.90)),
        25,
    ),
    Part(
        "motor mounts",
        "mounts",
        "motor_mount.step",
        ("D2", "D3"),
        "ASA, 0.2 mm layer, 5 perimeters",
        ((100, 4.10), (600, 3.35)),
        20,
    ),
    Part(
        "manifold housings",
        "housings",
        "manifold_housing.step",
        ("K1", "K2"),
        "clear resin (biocompatible grade), 50 micron layers, post-cured",
        ((5, 38.00), (500, 14.20), (1000, 11.75)),
        10,
    ),
    Part(
        "fixture clamps",
        "clamps",
        "clamp_v2.step",
        ("A", "B"),
        "PA12 nylon, SLS, dyed black",
        ((50, 9.80), (300, 7.15)),
        20,
    ),
    Part(
        "cable guides",
        "guides",
        "cable_guide_r4.step",
        ("B4", "B5"),
        "PETG, 0.16 mm layer, light grey",
        ((200, 1.90), (1000, 1.35)),
        50,
    ),
)

VAGUE = (
    "Looks good, go ahead.",
    "Approved.",
    "Looks great, please proceed.",
    "Approved on our end - please proceed with Q-{quote}.",
    "Go ahead for now and we'll confirm the details later this month.",
    "Sounds good, let's do it.",
)
COMPLETE = (
    "Please release {qty} units of rev {rev}, packed {pack} per bag. Start now - PO {po} is on "
    "its way from our ERP.",
    "We're releasing the full run: {qty} {short}, rev {rev}, start Monday {start}. PO {po}.",
    "Released: {qty} units, rev {rev}, PO {po}, ship by {ship}.",
    "Please proceed with production of {qty} units, revision {rev}, under PO {po}. We need them "
    "by {ship}.",
)
COMPLETE_PDF = (
    "Go ahead and schedule {qty} units of rev {rev} for delivery by {ship}. Our PO {po} is "
    "attached.",
    "Please find our purchase order attached. Go ahead with production.",
)
TECHNICAL = (
    "From an engineering standpoint rev {rev} is approved. This does not release production; "
    "{buyer} will send the PO when the budget is confirmed.",
    "Fit check on the rev {rev} {short} passed on the assembly. Geometry approved.",
    "Engineering has approved the rev {rev} sample from a technical standpoint. This does not "
    "yet release production - {buyer} in purchasing will follow with the PO and quantity.",
)
PARTIAL = (
    "Please start lot 1 ({lot} units) of rev {rev} now under PO {po}. The remaining {rest} stay "
    "on hold until we confirm the fit on the line.",
    "approve lot 1 for {lot} units from revision {rev}, do not start the remaining {rest}",
)
HOLD = (
    "Please pause the order until further notice. I'll let you know when we can pick it back up.",
    "can you hold off on printing? found an interference on the {short}",
    "Please do not start the run yet - we are waiting on a revised drawing.",
)
QUESTION = (
    "Could you also quote {qty} pcs in PA12? What would the lead time be?",
    "Is the {lead}-day lead time counted from the PO date or from the file release?",
    "Can you send a photo of the first article before the full run?",
)
THANKS = (
    "Thanks Rosa, received. I'll review it with the team and come back to you this week.",
    "Thank you, we got the parts today. All good.",
)
SHOP_AFTER = {
    "complete": "Thank you - Q-{quote} is released. We have scheduled the run and will confirm "
    "the ship date tomorrow.",
    "hold": "Understood - Q-{quote} is on hold; nothing will be printed until you tell us "
    "otherwise.",
    "question": "PA12 works for this part at the same lead time: {lead} business days from "
    "written release. Photos of the first article go out before the full run.",
    "ask": "Thanks for the update on Q-{quote}. Before we start we need the quantity released "
    "now, the controlling revision, the start or ship date and your PO number.",
}
