import pytest


@pytest.mark.django_db
def test_login_page_renders(client):
    response = client.get("/accounts/login/")
    assert response.status_code == 200
    assert b"Log in to Healthboard" in response.content


def test_outsider_gets_404_for_another_teams_system(client, alice, bob, system_a):
    client.force_login(bob)
    assert client.get(f"/systems/{system_a.slug}/").status_code == 404
    client.force_login(alice)
    assert client.get(f"/systems/{system_a.slug}/").status_code == 200
