"""The demo's agents: who they are and which languages and contacts they take."""

from __future__ import annotations

from dataclasses import dataclass

from supportdesk.demo.common import COURIER, CUSTOMER, PARTNER


@dataclass(frozen=True)
class AgentSpec:
    username: str
    first_name: str
    last_name: str
    languages: tuple[str, ...]  # native first
    contact_kinds: tuple[str, ...]


AGENTS: tuple[AgentSpec, ...] = (
    AgentSpec("agent.en", "Emma", "Walsh", ("en", "es"), (CUSTOMER, PARTNER)),
    AgentSpec("agent.es", "Lucía", "García", ("es", "ca", "en"), (CUSTOMER, COURIER)),
    AgentSpec("agent.ca", "Jordi", "Puig", ("ca", "es", "fr"), (CUSTOMER, PARTNER)),
    AgentSpec("agent.it", "Giulia", "Rossi", ("it", "en", "es"), (CUSTOMER, COURIER, PARTNER)),
    AgentSpec("agent.pt", "João", "Silva", ("pt", "es", "en"), (CUSTOMER,)),
    AgentSpec("agent.fr", "Camille", "Martin", ("fr", "ar", "en"), (CUSTOMER, PARTNER)),
    AgentSpec("agent.pl", "Piotr", "Nowak", ("pl", "uk", "en"), (CUSTOMER, COURIER)),
    AgentSpec("agent.ro", "Ioana", "Popescu", ("ro", "it", "en"), (CUSTOMER, COURIER, PARTNER)),
    AgentSpec("agent.uk", "Olena", "Kovalenko", ("uk", "pl", "en"), (CUSTOMER, COURIER)),
    AgentSpec("agent.ka", "Nino", "Beridze", ("ka", "en"), (CUSTOMER, COURIER, PARTNER)),
    AgentSpec("agent.kk", "Aigerim", "Akhmetova", ("kk", "ky", "en"), (CUSTOMER, COURIER)),
    AgentSpec("agent.ky", "Azamat", "Asanov", ("ky", "kk", "tr"), (CUSTOMER, PARTNER)),
    AgentSpec("agent.hr", "Ivana", "Horvat", ("hr", "sr", "en"), (CUSTOMER, PARTNER)),
    AgentSpec("agent.sr", "Marko", "Jovanović", ("sr", "hr", "bg"), (CUSTOMER, COURIER)),
    AgentSpec("agent.bg", "Georgi", "Ivanov", ("bg", "sr", "en"), (CUSTOMER, COURIER, PARTNER)),
    AgentSpec("agent.ar", "Youssef", "Bennani", ("ar", "fr", "en"), (CUSTOMER, COURIER)),
    AgentSpec("agent.de", "Lena", "Schmidt", ("de", "en", "tr"), (CUSTOMER, PARTNER)),
    AgentSpec("agent.ko", "Minjun", "Kim", ("ko", "en"), (CUSTOMER, COURIER, PARTNER)),
    AgentSpec("agent.tr", "Elif", "Yılmaz", ("tr", "de", "en"), (CUSTOMER, COURIER)),
    # A generalist who takes the partners and couriers others do not.
    AgentSpec("agent.partners", "Alex", "Morgan", ("en", "es", "fr", "de"), (PARTNER, COURIER)),
)


SENIOR_AGENTS = {"agent.en", "agent.es", "agent.fr", "agent.de", "agent.partners"}
CHAT_LANGUAGES = tuple(sorted({spec.languages[0] for spec in AGENTS}))
