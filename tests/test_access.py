"""Object access: another team's objects are 404 in the UI and the API; grants take effect."""

from __future__ import annotations

import pytest

from healthboard import access
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def test_outsider_gets_404_in_ui_and_api(client, alice, bob, system_a, deployment_a):
    client.force_login(bob)
    assert client.get(f"/systems/{system_a.slug}/").status_code == 404
    response = client.get(f"/api/v1/systems/{system_a.pk}/")
    assert response.status_code == 404
    assert "system-a" not in response.content.decode()
    assert client.get(f"/api/v1/deployments/{deployment_a.pk}/").status_code == 404
    listing = client.get("/api/v1/systems/").json()["results"]
    assert [s["slug"] for s in listing] == ["system-b"]
    assert system_a.slug not in client.get("/").content.decode()


def test_member_sees_own_system(client, alice, system_a, deployment_a):
    client.force_login(alice)
    assert client.get(f"/systems/{system_a.slug}/").status_code == 200
    body = client.get(f"/api/v1/deployments/{deployment_a.pk}/").json()
    assert body["system"] == "system-a" and body["id"] == deployment_a.pk


def test_catalog_admin_grants_team_access_through_the_page(client, catalog_admin, bob, system_a, team_b):
    assert system_a not in access.systems_for(bob)
    client.force_login(catalog_admin)
    page = client.get("/access/")
    assert page.status_code == 200
    response = client.post(
        "/access/",
        {
            "system": system_a.slug,
            "team": team_b.slug,
            "permissions": ["view_system"],
            "action": "grant",
            "reason": "shared on-call",
        },
    )
    assert response.status_code == 302
    access.forget_cached_access(bob)
    assert system_a in access.systems_for(bob)


def test_non_admin_cannot_use_the_access_page(client, alice, system_a, team_a):
    client.force_login(alice)
    assert client.get("/access/").status_code == 403
    response = client.post(
        "/access/",
        {
            "system": system_a.slug,
            "user": "alice",
            "permissions": ["change_system"],
            "action": "grant",
            "reason": "me",
        },
    )
    assert response.status_code == 403
    assert not access.has_perm(alice, system_a, access.CHANGE)


def test_direct_user_grant_and_revoke(system_a):
    user = UserFactory(username="dora")
    access.grant(system_a, [access.VIEW, access.VIEW_SENSITIVE], user=user)
    assert access.has_perm(user, system_a, access.VIEW_SENSITIVE)
    access.revoke(system_a, [access.VIEW_SENSITIVE], user=user)
    assert not access.has_perm(user, system_a, access.VIEW_SENSITIVE)
    assert access.has_perm(user, system_a, access.VIEW)


def test_anonymous_is_sent_to_login(client, system_a):
    response = client.get(f"/systems/{system_a.slug}/")
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def test_scope_refuses_unregistered_models(alice):
    from healthboard.models import AuditRecord

    with pytest.raises(LookupError):
        access.scope(AuditRecord.objects.all(), alice)
