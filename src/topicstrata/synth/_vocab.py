"""Sales vocabulary and sentence templates shared by every use case.

Pure data. A template is ``(text, weight)``; ``{name}`` placeholders are filled
per record by ``_render.render`` from the fields ``_generate`` builds:

- use-case fields: ``leaf1``, ``leaf2`` (leaf phrases), ``leaf_name``,
  ``l2p``, ``l2_name`` (branch phrase and name), ``l1p``, ``pain``, ``product``,
  ``other`` (a phrase of a different use case);
- record fields: ``company``, ``domain``, ``slug``, ``industry``,
  ``industry_lc``, ``first``, ``last``, ``person``, ``email``, ``title``,
  ``dept``, ``system``, ``competitor``, ``seats``, ``sites``, ``fy``,
  ``quarter``, ``month``, ``deal_type``, ``token``, ``sep``;
- e-mail fields: ``first_lc``, ``last_lc``, ``initial``.

Templates that follow another sentence start with ``{sep}`` so an omitted
optional part leaves no stray whitespace. A template list may contain ``""``
to make its part optional.
"""

from __future__ import annotations

Templates = tuple[tuple[str, float], ...]

# -- records -----------------------------------------------------------------

COMPANY_STEMS: tuple[str, ...] = (
    "Acme", "Northwind", "Globex", "Initech", "Umbrella", "Contoso", "Fabrikam", "Stark",
    "Wayne", "Tyrell", "Cyberdyne", "Soylent", "Hooli", "Vandelay", "Wonka", "Oceanic",
    "Pinnacle", "Summit", "Bluewater", "Redwood", "Silverline", "Ironbridge", "Evergreen",
    "Brightpath", "Crescent", "Harbor", "Keystone", "Lakeside", "Meridian", "Northstar",
    "Orion", "Pioneer", "Quantum", "Riverside", "Sterling", "Trident", "Unity", "Vertex",
    "Westfield", "Zenith", "Alpine", "Beacon", "Cobalt", "Delta", "Everest", "Falcon",
    "Granite", "Horizon", "Atlas", "Juniper", "Kestrel", "Lumen", "Mosaic", "Nimbus",
    "Octave", "Polaris", "Sequoia", "Tundra", "Vireo", "Willow",
)  # fmt: skip
COMPANY_SUFFIXES: tuple[str, ...] = (
    "Corp", "Inc.", "Group", "Holdings", "LLC", "GmbH", "plc", "Partners", "AG", "& Co",
)  # fmt: skip
TLDS: tuple[str, ...] = (".com", ".com", ".com", ".io", ".co.uk", ".de", ".net")

FIRST_NAMES: tuple[str, ...] = (
    "James", "Maria", "Wei", "Priya", "Ahmed", "Sofia", "Lukas", "Aisha", "Kenji", "Olivia",
    "Mateo", "Chloe", "Ravi", "Fatima", "Jonas", "Emma", "Diego", "Hannah", "Arjun", "Lena",
    "Carlos", "Grace", "Yusuf", "Mia", "Tomasz", "Sarah", "Daniel", "Ingrid", "Kwame", "Julia",
    "Noah", "Elena", "Hiro", "Zoe", "Omar", "Anna", "Pierre", "Laura", "Sven", "Nadia",
)  # fmt: skip
LAST_NAMES: tuple[str, ...] = (
    "Smith", "Garcia", "Chen", "Patel", "Khan", "Rossi", "Muller", "Okafor", "Tanaka", "Brown",
    "Lopez", "Martin", "Sharma", "Ali", "Schmidt", "Johnson", "Fernandez", "Weber", "Gupta",
    "Novak", "Silva", "Kim", "Nguyen", "Dubois", "Andersson", "Kowalski", "Murphy", "Cohen",
    "Mensah", "Ivanova", "Taylor", "Yamamoto", "Hassan", "Costa", "Lindqvist", "Reyes",
    "O'Brien", "Fischer", "Wright", "Moreau",
)  # fmt: skip
TITLES: tuple[str, ...] = (
    "CIO", "CFO", "COO", "CTO", "VP Operations", "Director of IT", "Head of Procurement",
    "IT Manager", "Chief Digital Officer", "VP Finance", "CISO", "CMO", "CHRO", "Head of Data",
    "Program Manager", "Enterprise Architect",
)  # fmt: skip
DEPARTMENTS: tuple[str, ...] = (
    "IT", "operations", "finance", "digital", "customer care", "risk", "marketing", "HR",
    "security", "procurement", "analytics", "shared services",
)  # fmt: skip
SYSTEMS: tuple[str, ...] = (
    "Salesforce", "ServiceNow", "SAP", "Workday", "Microsoft Teams", "Oracle", "Snowflake",
    "their data warehouse", "Active Directory", "Microsoft Dynamics", "Zendesk",
    "an in-house CRM", "their ERP", "Slack",
)  # fmt: skip
COMPETITORS: tuple[str, ...] = (
    "the incumbent", "a Big 4 SI", "an in-house build", "two other vendors",
    "the cloud provider's native tooling", "a niche startup", "a low-cost offshore partner",
    "their current vendor",
)  # fmt: skip
SEATS: tuple[str, ...] = ("50", "100", "150", "250", "500", "750", "1,000", "2500", "5,000")
SITES: tuple[str, ...] = ("2", "3", "5", "8", "12", "20", "two", "several", "all")
FISCAL_YEARS: tuple[str, ...] = ("24", "25", "26")
QUARTERS: tuple[str, ...] = ("Q1", "Q2", "Q3", "Q4")
MONTHS: tuple[str, ...] = (
    "January", "February", "March", "April", "May", "June", "July", "August", "September",
    "October", "November", "December",
)  # fmt: skip
DEAL_TYPES: tuple[str, ...] = (
    "New Logo", "Renewal", "Upsell", "Expansion", "Pilot", "POC", "Cross-sell",
)  # fmt: skip
GENERIC_PRODUCTS: tuple[str, ...] = (
    "Enterprise Platform", "Platform Bundle", "Professional Services", "Premier Support",
)  # fmt: skip
GENERIC_PRODUCT_GROUP = "Platform Services"

#: Whitespace between sentences: mostly one space, sometimes dirty.
SEPARATORS: Templates = ((" ", 0.8), ("  ", 0.08), ("\n", 0.1), (" \n", 0.02))

# -- templates -----------------------------------------------------------------

EMAIL: Templates = (
    ("{first_lc}.{last_lc}@{domain}", 0.6),
    ("{initial}{last_lc}@{domain}", 0.3),
    ("{first_lc}@{domain}", 0.1),
)

OPPORTUNITY_NAME: Templates = (
    ("{company} - {l2_name}", 0.2),
    ("{company} | {product}", 0.15),
    ("{company} {leaf_name} {deal_type}", 0.15),
    ("FY{fy} {company} - {l2p} expansion", 0.1),
    ("{company}: {leaf1} pilot", 0.15),
    ("{company} - {product} ({deal_type})", 0.1),
    ("{deal_type} - {company} - {leaf1}", 0.1),
    ("{company} {quarter} {l2_name}", 0.05),
)

DETAILS_HEADER: Templates = (
    ("", 0.45),
    ("Opportunity Details: ", 0.2),
    ("Opportunity Details:\n", 0.1),
    ("OPPORTUNITY DETAILS: ", 0.05),
    ("Details - ", 0.1),
    ("Summary: ", 0.1),
)
DETAILS_CONTEXT: Templates = (
    ("{company} ({industry}) is evaluating options for {l1p}.", 1.0),
    ("{company} is a {industry_lc} company looking at {l2p}.", 1.0),
    ("Met with {company} re: {l2p}.", 1.0),
    ("Inbound lead from {company} about {l1p}.", 1.0),
    ("Expansion at {company}: {l2p} across {sites} sites.", 1.0),
    ("Existing customer {company} wants to extend the platform into {l2p}.", 1.0),
    ("{company}'s {dept} team reached out about {l2p} after a webinar.", 1.0),
    ("Referral from a partner; {company} has budget for {l1p} this year.", 1.0),
)
DETAILS_LEAF: Templates = (
    ("{sep}Scope includes {leaf1} and {leaf2}.", 1.0),
    ("{sep}Main use case is {leaf1}.", 1.0),
    ("{sep}Pilot focused on {leaf1} for the {dept} team.", 1.0),
    ("{sep}They asked specifically about {leaf1}; also interested in {leaf2}.", 1.0),
    ("{sep}Demo went well - {leaf1} resonated, {leaf2} less so.", 1.0),
    ("{sep}RFP covers {leaf1}, {leaf2} and reporting.", 1.0),
    ("{sep}Phase 1 is {leaf1}. Phase 2 could add {leaf2}.", 1.0),
    ("{sep}They've tried {leaf1} in-house and it didn't scale.", 1.0),
)
DETAILS_PAIN: Templates = (
    ("", 1.0),
    ("{sep}Current pain: {pain}.", 1.0),
    ("{sep}Exec sponsor cares about {pain}.", 1.0),
    ("{sep}It's all about {pain} for them.", 1.0),
    ("{sep}Biggest issue is {pain}, which they can't fix with the current tools.", 1.0),
)
DETAILS_GENERIC: Templates = (
    ("", 3.0),
    ("{sep}Pricing based on {seats} named user licenses with a phased rollout.", 1.0),
    ("{sep}Integration with {system} is a must-have.", 1.0),
    ("{sep}They want a single platform rather than point solutions.", 1.0),
    ("{sep}Procurement wants a multi-year deal; legal review pending.", 1.0),
    ("{sep}Budget approved for FY{fy}.", 1.0),
    ("{sep}Competing against {competitor}.", 1.0),
    ("{sep}Security questionnaire sent to {first}.", 1.0),
    ("{sep}Solution architecture workshop done, integration scope still open.", 1.0),
    ("{sep}Rollout planned in {sites} regions, licenses ramp over the term.", 1.0),
    ("{sep}They won't sign before the {quarter} budget review.", 1.0),
)
DETAILS_CROSS: Templates = (
    ("", 0.9),
    ("{sep}Also mentioned {other} as a possible phase 2.", 0.05),
    ("{sep}Separate conversation about {other} with another team.", 0.05),
)
DETAILS_CONTACT: Templates = (
    ("", 5.0),
    ("{sep}Contact: {person} ({email})", 1.0),
    ("{sep}Spoke with {person}, {title}.", 1.0),
    ("{sep}{first} ({title}) is the champion - {email}", 1.0),
    ("{sep}Champion: {person} <{email}>", 1.0),
    ("{sep}cc {email}", 1.0),
)
DETAILS_NEXT_STEPS: Templates = (
    ("", 5.5),
    ("{sep}Next steps: schedule demo with {first}.", 1.0),
    ("{sep}Next steps: send proposal by end of {month}.", 1.0),
    ("{sep}Next Steps - POC kickoff w/ {first}, need SOW", 1.0),
    ("{sep}next steps: follow up after their board meeting", 1.0),
    ("{sep}Next steps:\n- pricing review\n- technical deep dive with {first}", 0.5),
)
DETAILS_URL: Templates = (
    ("", 7.5),
    ("{sep}RFP: https://{domain}/rfp/{token}.pdf", 0.5),
    ("{sep}See www.{domain}", 0.5),
    ("{sep}Notes: https://{slug}.sharepoint.com/sites/Deals/Shared%20Documents/{token}", 0.5),
    ("{sep}https://docs.google.com/document/d/{token}/edit", 0.5),
    ("{sep}Website: http://{domain}", 0.5),
)

NEEDS_HEADER: Templates = (
    ("", 0.5),
    ("Customer Needs: ", 0.2),
    ("Customer Needs:\n", 0.1),
    ("Needs: ", 0.1),
    ("Business need - ", 0.05),
    ("CUSTOMER NEEDS: ", 0.05),
)
NEEDS_MAIN: Templates = (
    ("They're struggling with {pain} and want {leaf1}.", 1.0),
    ("Customer needs {leaf1} and {leaf2} to address {pain}.", 1.0),
    ("{pain} is the main problem; they won't renew the incumbent without {leaf1}.", 1.0),
    ("Need {l2p} with {leaf1}. Can't keep living with {pain}.", 1.0),
    ("Looking for {leaf1}, ideally with {leaf2}.", 1.0),
    ("Wants to reduce {pain}. Key requirement: {leaf1}.", 1.0),
    ("We'll need to show {leaf1} working on their data; they don't want another pilot.", 1.0),
    ("Must have: {leaf1}; nice to have: {leaf2}", 1.0),
    ("{leaf1} + {leaf2}, tied to {l2p}", 1.0),
)
NEEDS_EXTRA: Templates = (
    ("", 3.0),
    ("{sep}Integration with {system} required.", 0.5),
    ("{sep}Budget is tight.", 0.5),
    ("{sep}Decision expected in {quarter}.", 0.5),
    ("{sep}It's a {l1p} initiative sponsored by the {title}.", 0.5),
    ("{sep}They'd like a platform that scales.", 0.5),
    ("{sep}Doesn't want a long implementation.", 0.5),
)

PRODUCT_NAME: Templates = (
    ("{product}", 0.8),
    ("{product} - Enterprise", 0.08),
    ("{product} (SaaS)", 0.07),
    ("{product} Add-on", 0.05),
)
PRODUCT_SPECIFICS: Templates = (
    ("{leaf1} module, {seats} users", 1.0),
    ("Includes: {leaf1}; {leaf2}; premium support", 1.0),
    ("{product} - {leaf1} add-on", 1.0),
    ("{seats} licenses + implementation services for {leaf1}", 1.0),
    ("Tier: Enterprise. Modules: {l2p}, {leaf1}", 1.0),
    ("{leaf1}, {leaf2}, integration with {system}", 1.0),
)

# -- vague records: no use-case signal beyond the product group ----------------

VAGUE_OPPORTUNITY_NAME: Templates = (
    ("{company} - New Opportunity", 1.0),
    ("{company} {deal_type}", 1.0),
    ("Opportunity for {company}", 1.0),
)
VAGUE_DETAILS: Templates = (
    ("Follow up with {first} re: platform discussion. Next steps TBD.", 1.0),
    ("Customer interested in our solution; details to come.", 1.0),
    ("Intro call with {company}. Generic interest in the platform, no clear use case yet.", 1.0),
    ("Renewal placeholder - {person} to update.", 1.0),
    ("See email from {email}.", 1.0),
)
#: ``None`` renders as a missing value, as in real exports.
VAGUE_NEEDS: tuple[tuple[str | None, float], ...] = (
    ("TBD", 1.0),
    ("Not captured", 1.0),
    ("see notes", 1.0),
    ("N/A - to be discussed", 1.0),
    ("General platform evaluation.", 1.0),
    (None, 1.0),
)
VAGUE_SPECIFICS: Templates = (
    ("Platform licenses", 1.0),
    ("Standard bundle", 1.0),
    ("Enterprise agreement - {seats} seats", 1.0),
    ("TBD", 1.0),
)
