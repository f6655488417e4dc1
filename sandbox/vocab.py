"""Word lists the generator draws from.

Chosen to be nasty in the ways real home-service data is: accents and non-Latin scripts,
apostrophes, hyphenated surnames, "Last, First" ordering, company names whose comma is not a
"Last, First" separator, single-word names, and whitespace a careless parser would keep.
"""

from __future__ import annotations

# fmt: off
FIRST_NAMES: tuple[str, ...] = (
    "John", "Mary", "James", "Patricia", "Robert", "Jennifer", "Michael", "Linda", "David",
    "Elizabeth", "William", "Barbara", "Richard", "Susan", "Joseph", "Jessica", "Thomas", "Karen",
    "Christopher", "Sarah", "Daniel", "Lisa", "Matthew", "Nancy", "Anthony", "Betty", "Mark",
    "Sandra", "Donald", "Ashley", "Steven", "Emily", "Paul", "Kimberly", "Andrew", "Donna",
    "Joshua", "Michelle", "Kenneth", "Carol", "María José", "José", "Seán", "Zoë", "Björn",
    "Renée", "François", "Nguyễn Văn", "Chloé", "Łukasz", "Søren", "Ngozi", "Aiyana", "Mei-Ling",
    "Jean-Luc", "D'Andre", "Anne Marie", "Ólafur", "Nuño", "Dvořák",
)

LAST_NAMES: tuple[str, ...] = (
    "Smith", "Johnson", "Williams", "Brown", "Jones", "Garcia", "Miller", "Davis", "Rodriguez",
    "Martinez", "Hernandez", "Lopez", "Gonzalez", "Wilson", "Anderson", "Thomas", "Taylor",
    "Moore", "Jackson", "Martin", "Lee", "Perez", "Thompson", "White", "Harris", "Sanchez",
    "Clark", "Ramirez", "Lewis", "Robinson", "O'Brien", "García-López", "Núñez", "Müller",
    "D'Angelo", "McDonald", "van der Berg", "St. James", "Ó Súilleabháin", "Kowalczyk", "Nakamura",
    "Østergaard", "Björklund", "Le", "Ng", "De La Cruz", "Smith-Jones", "Ødegård", "Çelik",
    "Papadopoulos", "王", "Иванов",
)

SINGLE_NAMES: tuple[str, ...] = (
    "Cher", "Madonna", "Prince", "Bono", "Teller", "Björk", "Zendaya",
)

COMPANY_STEMS: tuple[str, ...] = (
    "Acme", "Summit", "Blue Ridge", "Pioneer", "Lakeside", "Evergreen", "Redwood", "Harbor",
    "Sunrise", "Golden State", "Northwind", "Riverbend", "Maple & Oak", "Crème de la Crème",
    "Château", "Big Sky", "Keystone", "Liberty", "Granite", "Cornerstone", "O'Malley's",
)

COMPANY_KINDS: tuple[str, ...] = (
    "Plumbing", "Property Management", "Restaurants", "Dental Group", "Apartments", "Holdings",
    "Church", "School District", "Hotel", "Auto Body", "Storage", "Medical Center",
)

COMPANY_SUFFIXES: tuple[str, ...] = (
    ", LLC", ", Inc.", " Inc", " LLC", " Co.", ", L.P.", "", "",
)

STREET_NAMES: tuple[str, ...] = (
    "Main", "Oak", "Pine", "Maple", "Cedar", "Elm", "Washington", "Lake", "Hill", "Park", "Sunset",
    "Highland", "Jefferson", "Lincoln", "Ridge", "Church", "Willow", "El Camino Real", "Peachtree",
    "Martin Luther King Jr.", "Avenida de la Playa", "Rue Saint-Denis", "Bay",
)

STREET_TYPES: tuple[str, ...] = (
    "St", "Ave", "Blvd", "Rd", "Dr", "Ln", "Ct", "Way", "Pl", "Pkwy",
)

UNITS: tuple[str, ...] = (
    "Apt 1", "Apt 2B", "Suite 100", "Unit 7", "#12", "Ste. 400", "Bldg C",
)

CITIES: tuple[tuple[str, str, str, float, float], ...] = (
    # city, state, zip prefix, latitude, longitude
    ("Los Angeles", "CA", "900", 34.05, -118.24),
    ("San Diego", "CA", "921", 32.72, -117.16),
    ("Sacramento", "CA", "958", 38.58, -121.49),
    ("Phoenix", "AZ", "850", 33.45, -112.07),
    ("Dallas", "TX", "752", 32.78, -96.8),
    ("Austin", "TX", "787", 30.27, -97.74),
    ("Houston", "TX", "770", 29.76, -95.37),
    ("Denver", "CO", "802", 39.74, -104.99),
    ("Atlanta", "GA", "303", 33.75, -84.39),
    ("Orlando", "FL", "328", 28.54, -81.38),
    ("Chicago", "IL", "606", 41.88, -87.63),
    ("Cœur d'Alene", "ID", "838", 47.68, -116.78),
    ("Española", "NM", "875", 35.99, -106.08),
    ("Seattle", "WA", "981", 47.61, -122.33),
    ("Boston", "MA", "021", 42.36, -71.06),
    ("Toronto", "ON", "M5V", 43.65, -79.38),
)

BUSINESS_UNITS: tuple[str, ...] = (
    "HVAC - Service", "HVAC - Install", "Plumbing - Service", "Plumbing - Install",
    "Electrical - Service", "Drains & Sewer", "Électricité Résidentielle", "Commercial Maint.",
)

JOB_TYPES: tuple[str, ...] = (
    "Service Call", "Maintenance", "Install", "Repair", "Estimate", "Warranty", "Emergency",
    "Drain Cleaning", "Water Heater Replacement", "AC Tune-Up", "Panel Upgrade",
)

INVOICE_TYPES: tuple[str, ...] = (
    "Standard", "Progress", "Deposit", "Warranty", "Membership",
)

TERM_NAMES: tuple[str, ...] = (
    "Due Upon Receipt", "Net 15", "Net 30", "Net 60", "COD",
)

CREATED_BY: tuple[str, ...] = (
    "admin", "jsmith", "dispatch", "api.integration", "ana.núñez",
)

EMPLOYEES: tuple[str, ...] = (
    "Alex Rivera", "Sam Chen", "Jordan O'Neil", "Taylor Brooks", "Renée Dubois", "Kai Nakamura",
)

SKU_NAMES: tuple[str, ...] = (
    "Service Call Fee", "Water Heater 50gal", "Capacitor 45/5 MFD", "Drain Snake 100ft",
    "Labor - Hourly", "Thermostat (Smart)", "Membership Discount", "Filter 16x25x1",
)

SUMMARIES: tuple[str, ...] = (
    "Replaced water heater &amp; haul-away",
    "<p>Annual AC tune-up. Customer reports <b>no cooling</b> upstairs.</p>",
    "Drain cleared — roots in main line. Recommend camera inspection.",
    "Panel upgrade 100A → 200A",
    "Thermostat replaced; “smart” model installed per customer's request",
    "Garantía: reparación sin costo", "Leak under kitchen sink\nFixed P-trap\r\nTested OK", "",
)

CONTACT_MEMOS: tuple[str, ...] = (
    "work #", "Owner's daughter - Kelly", "after 5pm only", "billing", "tenant", "Oficina",
    "do not call on Sundays", "ex-wife — do not use",
)

EMAIL_DOMAINS: tuple[str, ...] = (
    "example.com", "example.org", "mail.example.net", "exämple.de", "example.co.uk",
)

CUSTOM_FIELD_NAMES: tuple[str, ...] = (
    "Gate Code", "Referral Source", "Preferred Tech", "Pets", "HOA", "Notas",
)

CUSTOM_FIELD_VALUES: tuple[str | None, ...] = (
    "1234#", "Google", "Yelp", "Dog — friendly", None, "", "Sí", "Neighbor referral",
)
# fmt: on
