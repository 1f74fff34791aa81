"""The businesses a simulated account can advertise: product lines, keyword themes and audiences.

Pure data. Giving every account a believable vertical makes generated ad copy, keywords and search
terms read like a real account, which is what the copywriter and the negative-keyword policy see.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ProductLine:
    """What one campaign sells; each theme becomes an ad set (and, on Google, its keyword root)."""

    name: str
    themes: tuple[str, ...]


@dataclass(frozen=True)
class Vertical:
    """A kind of business, with the words its ads and its customers' searches use."""

    key: str
    brand: str
    b2b: bool
    order_value_usd: tuple[float, float]  # value of a conversion: an order, or a B2B lead's pipeline value
    product_lines: tuple[ProductLine, ...]
    benefits: tuple[str, ...]
    offers: tuple[str, ...]
    social_proof: tuple[str, ...]
    audiences: tuple[str, ...]
    # Search-term modifiers: (modifier, goes before the root?, conversion-rate factor).
    relevant_modifiers: tuple[tuple[str, bool, float], ...]
    irrelevant_modifiers: tuple[tuple[str, bool], ...]


_B2C_RELEVANT: tuple[tuple[str, bool, float], ...] = (
    ("buy", True, 1.5),
    ("best", True, 0.8),
    ("sale", False, 1.3),
    ("online", False, 1.1),
    ("discount", True, 1.2),
    ("reviews", False, 0.5),
    ("for women", False, 1.0),
    ("for men", False, 1.0),
    ("near me", False, 0.7),
    ("top rated", True, 0.9),
)
_B2C_IRRELEVANT: tuple[tuple[str, bool], ...] = (
    ("free", True),
    ("jobs", False),
    ("diy", True),
    ("how to clean", True),
    ("repair", False),
    ("meaning", False),
    ("used", True),
    ("wholesale", False),
)
_B2B_RELEVANT: tuple[tuple[str, bool, float], ...] = (
    ("best", True, 0.9),
    ("pricing", False, 1.4),
    ("for small business", False, 1.1),
    ("comparison", False, 0.8),
    ("enterprise", True, 1.2),
    ("demo", False, 1.6),
    ("alternatives", False, 0.9),
    ("tool", False, 1.0),
    ("platform", False, 1.0),
    ("vendors", False, 1.1),
)
_B2B_IRRELEVANT: tuple[tuple[str, bool], ...] = (
    ("free", True),
    ("jobs", False),
    ("salary", False),
    ("open source", True),
    ("template free download", False),
    ("certification course", False),
    ("meaning", False),
    ("interview questions", False),
)

VERTICALS: tuple[Vertical, ...] = (
    Vertical(
        key="running",
        brand="Stride Supply",
        b2b=False,
        order_value_usd=(70.0, 140.0),
        product_lines=(
            ProductLine("Trail Running Shoes", ("trail running shoes", "waterproof trail shoes", "women's trail shoes")),
            ProductLine("Road Running Shoes", ("road running shoes", "cushioned running shoes", "marathon racing shoes")),
            ProductLine("Running Apparel", ("running jacket", "running shorts", "compression socks")),
            ProductLine("Running Accessories", ("running hydration vest", "running headlamp", "gps running watch")),
        ),
        benefits=("grip on any terrain", "all-day cushioning", "lightweight comfort", "made to go the distance"),
        offers=("Free shipping over $50", "20% off this week", "Free 60-day returns", "Buy 2, save 15%"),
        social_proof=("Rated 4.8 by 12k runners", "Trusted by 50k runners", "Over 9,000 five-star reviews"),
        audiences=(
            "Lookalike 1% purchasers", "Website visitors 30d", "Interest: trail running",
            "Interest: marathon", "Customer list", "Engaged video viewers 90d", "Broad 25-54",
        ),
        relevant_modifiers=_B2C_RELEVANT,
        irrelevant_modifiers=_B2C_IRRELEVANT,
    ),
    Vertical(
        key="coffee",
        brand="Northbean Coffee",
        b2b=False,
        order_value_usd=(30.0, 60.0),
        product_lines=(
            ProductLine("Coffee Subscriptions", ("coffee subscription", "monthly coffee box", "coffee gift subscription")),
            ProductLine("Whole Bean Coffee", ("single origin coffee beans", "espresso beans", "decaf coffee beans")),
            ProductLine("Brewing Gear", ("pour over coffee kit", "burr coffee grinder", "cold brew maker")),
            ProductLine("Coffee Gifts", ("coffee gift box", "coffee lover gifts", "coffee sampler set")),
        ),
        benefits=("roasted the day we ship", "ethically sourced beans", "barista-quality at home", "fresh every month"),
        offers=("First bag free", "Save 25% on your first box", "Free shipping on subscriptions", "Skip or cancel anytime"),
        social_proof=("Loved by 30k coffee drinkers", "Rated 4.9 on Trustpilot", "Over 5,000 five-star reviews"),
        audiences=(
            "Lookalike 1% subscribers", "Website visitors 14d", "Interest: specialty coffee",
            "Interest: home barista", "Subscriber list", "Cart abandoners 7d", "Broad 25-44",
        ),
        relevant_modifiers=_B2C_RELEVANT,
        irrelevant_modifiers=_B2C_IRRELEVANT,
    ),
    Vertical(
        key="skincare",
        brand="Lumen Skin",
        b2b=False,
        order_value_usd=(45.0, 90.0),
        product_lines=(
            ProductLine("Serums", ("vitamin c serum", "hyaluronic acid serum", "retinol serum")),
            ProductLine("Moisturisers", ("night cream", "spf moisturiser", "sensitive skin moisturiser")),
            ProductLine("Cleansers", ("gentle face cleanser", "oil cleanser", "exfoliating cleanser")),
        ),
        benefits=("visibly brighter skin", "dermatologist tested", "clean ingredients", "results in 4 weeks"),
        offers=("Free gift with every order", "15% off your first order", "Free shipping today", "Try it risk-free for 30 days"),
        social_proof=("Rated 4.7 by 20k customers", "Trusted by 100k skin lovers", "Over 8,000 reviews"),
        audiences=(
            "Lookalike 2% purchasers", "Website visitors 30d", "Interest: skincare",
            "Interest: clean beauty", "Customer list", "Instagram engagers 60d", "Broad women 25-54",
        ),
        relevant_modifiers=_B2C_RELEVANT,
        irrelevant_modifiers=_B2C_IRRELEVANT,
    ),
    Vertical(
        key="project_management",
        brand="Planwise",
        b2b=True,
        order_value_usd=(150.0, 500.0),
        product_lines=(
            ProductLine("Project Management", ("project management software", "gantt chart software", "resource planning tool")),
            ProductLine("Team Collaboration", ("team task manager", "agile sprint planning", "remote team workspace")),
            ProductLine("Portfolio Planning", ("portfolio management software", "capacity planning software", "okr software")),
        ),
        benefits=("ship projects on time", "keep every plan in one place", "see capacity at a glance", "get set up in a day"),
        offers=("Free 14-day trial", "Book a 20-minute demo", "Get the 2025 planning report", "Save 20% on annual plans"),
        social_proof=("Used by 4,000 teams", "Trusted by 300 enterprises", "Rated 4.6 on G2"),
        audiences=(
            "Job function: project management", "Seniority: director+", "Company size 200-5000",
            "Website visitors 90d", "Lookalike: customers", "Industry: software", "Account list: target accounts",
        ),
        relevant_modifiers=_B2B_RELEVANT,
        irrelevant_modifiers=_B2B_IRRELEVANT,
    ),
    Vertical(
        key="payroll",
        brand="Harbor Payroll",
        b2b=True,
        order_value_usd=(120.0, 400.0),
        product_lines=(
            ProductLine("Payroll Software", ("payroll software", "payroll automation", "international payroll")),
            ProductLine("HR Platform", ("hr software", "employee onboarding software", "time off tracking")),
            ProductLine("Compliance", ("payroll compliance", "contractor payments", "benefits administration")),
        ),
        benefits=("run payroll in minutes", "stay compliant in 40 countries", "retire the spreadsheets", "pay people on time"),
        offers=("Free 30-day trial", "Request a demo today", "Download the payroll checklist", "First month free"),
        social_proof=("Trusted by 9,000 companies", "Rated 4.7 on Capterra", "Paying 250k employees monthly"),
        audiences=(
            "Job function: HR", "Job title: payroll manager", "Company size 50-1000",
            "Website visitors 60d", "Lookalike: customers", "Industry: professional services", "Finance leaders",
        ),
        relevant_modifiers=_B2B_RELEVANT,
        irrelevant_modifiers=_B2B_IRRELEVANT,
    ),
    Vertical(
        key="security_training",
        brand="Shieldcraft",
        b2b=True,
        order_value_usd=(200.0, 600.0),
        product_lines=(
            ProductLine("Security Awareness", ("security awareness training", "phishing simulation", "employee security training")),
            ProductLine("Compliance Training", ("iso 27001 training", "soc 2 compliance training", "gdpr training")),
            ProductLine("Developer Security", ("secure coding training", "application security training", "devsecops training")),
        ),
        benefits=("cut phishing clicks by 70%", "get audit-ready in weeks", "run training people finish", "report risk to the board"),
        offers=("Start a free pilot", "Book a demo", "Get the 2025 phishing benchmark", "Free risk assessment"),
        social_proof=("Trusted by 1,200 security teams", "Rated 4.8 on G2", "Used by 2M employees"),
        audiences=(
            "Job function: IT security", "Seniority: CISO / VP", "Company size 500+",
            "Website visitors 90d", "Lookalike: customers", "Industry: finance", "Account list: target accounts",
        ),
        relevant_modifiers=_B2B_RELEVANT,
        irrelevant_modifiers=_B2B_IRRELEVANT,
    ),
)

CONSUMER_VERTICALS: tuple[Vertical, ...] = tuple(v for v in VERTICALS if not v.b2b)
BUSINESS_VERTICALS: tuple[Vertical, ...] = tuple(v for v in VERTICALS if v.b2b)
