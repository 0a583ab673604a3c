"""factory_boy factories for the suite: one per model, sensible defaults, unique ids."""

from __future__ import annotations

from decimal import Decimal

import factory
from django.contrib.auth import get_user_model
from django.utils import timezone

from conversations.models import Channel, Conversation
from routing.models import AgentProfile
from timeline.models import Contact, ContactKind, Order, OrderStatus


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda user: f"{user.username}@example.com")
    password = factory.django.Password("correct horse battery staple")


def _core_permission_add(user, codename: str) -> None:
    from django.contrib.auth.models import Permission

    user.user_permissions.add(Permission.objects.get(codename=codename, content_type__app_label="supportdesk"))


class SupervisorFactory(UserFactory):
    """A supervisor: the core's permission (supportdesk.supervise), not is_staff."""

    class Meta:
        skip_postgeneration_save = True  # permissions are a relation: nothing to save again

    supervise = factory.PostGeneration(lambda user, create, extracted, **kwargs: _core_permission_add(
        user, "supervise"))


class IntegrationFactory(UserFactory):
    """An integration's own account (its API token posts the contact's messages)."""

    class Meta:
        skip_postgeneration_save = True

    integrate = factory.PostGeneration(lambda user, create, extracted, **kwargs: _core_permission_add(
        user, "integrate"))


class AgentFactory(UserFactory):
    class Meta:
        # The profile points at the user; the user itself has nothing to save again.
        skip_postgeneration_save = True

    profile = factory.RelatedFactory(
        "tests.factories.AgentProfileFactory", factory_related_name="user"
    )


class AgentProfileFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = AgentProfile

    user = factory.SubFactory(UserFactory)
    languages = factory.LazyFunction(lambda: ["en", "es"])
    contact_kinds = factory.LazyFunction(lambda: ["customer"])


class ContactFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Contact

    kind = ContactKind.CUSTOMER
    external_id = factory.Sequence(lambda n: f"C{n:06d}")
    name = factory.Faker("name")
    email = factory.LazyAttribute(lambda c: f"{c.external_id.lower()}@example.com")
    phone = factory.Sequence(lambda n: f"+3460000{n:04d}")
    preferred_language = "es"
    country = "ES"


class CourierFactory(ContactFactory):
    kind = ContactKind.COURIER
    external_id = factory.Sequence(lambda n: f"R{n:06d}")
    vehicle = "motorbike"
    courier_status = "active"


class PartnerFactory(ContactFactory):
    kind = ContactKind.PARTNER
    external_id = factory.Sequence(lambda n: f"P{n:06d}")
    store_name = factory.Faker("company")
    store_category = "restaurant"


class OrderFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Order

    external_id = factory.Sequence(lambda n: f"O{n:07d}")
    customer = factory.SubFactory(ContactFactory)
    status = OrderStatus.CREATED
    total = Decimal("25.50")
    currency = "EUR"
    placed_at = factory.LazyFunction(timezone.now)


class ConversationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Conversation

    contact = factory.SubFactory(ContactFactory)
    channel = Channel.CHAT
    language = "es"
