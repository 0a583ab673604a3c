"""The core's one definition of the roles, and the migration that kept supervisors supervisors."""

from __future__ import annotations

import importlib

import pytest
from django.apps import apps as global_apps
from django.contrib.auth.models import Group, Permission
from django.contrib.contenttypes.models import ContentType

from supportdesk import access
from tests.factories import AgentFactory, IntegrationFactory, SupervisorFactory, UserFactory

pytestmark = pytest.mark.django_db


def test_staff_is_not_a_supervisor_and_a_supervisor_need_not_be_staff():
    assert not access.is_supervisor(UserFactory(is_staff=True))
    assert access.is_supervisor(SupervisorFactory(is_staff=False))
    assert access.is_supervisor(UserFactory(is_superuser=True))  # Django grants superusers every permission


def test_desk_users_are_agents_and_supervisors_only():
    assert access.is_desk_user(AgentFactory())
    assert access.is_desk_user(SupervisorFactory())
    for user in (UserFactory(), UserFactory(is_staff=True), IntegrationFactory()):
        assert not access.is_desk_user(user)


def test_a_deactivated_supervisor_or_agent_is_nobody():
    assert not access.is_desk_user(SupervisorFactory(is_active=False))
    assert not access.is_desk_user(AgentFactory(is_active=False))


def test_the_migration_hands_the_old_supervisor_permission_on_to_users_and_groups():
    # given the permission as it was, in conversations, held by a user and by a group
    migration = importlib.import_module("conversations.migrations.0004_supervisor_permission_to_core")
    content_type = ContentType.objects.get(app_label="conversations", model="conversation")
    old = Permission.objects.create(content_type=content_type, codename="supervise_conversations",
                                    name="Can watch every conversation and act on any of them")
    user, member, bystander = UserFactory(), UserFactory(), UserFactory()
    user.user_permissions.add(old)
    group = Group.objects.create(name="Supervisors")
    group.permissions.add(old)
    member.groups.add(group)

    # when the migration runs
    migration.supervisors_keep_their_role(global_apps, None)

    # then both still supervise, through the core's permission, and the old one is gone
    from django.contrib.auth import get_user_model

    for holder in (user, member, bystander):
        holder = get_user_model().objects.get(pk=holder.pk)  # fresh: permissions are cached
        assert access.is_supervisor(holder) is (holder != bystander)
    assert not Permission.objects.filter(codename="supervise_conversations").exists()
