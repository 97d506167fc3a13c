from healthboard.access import user_roles


def navigation(request):
    """The user's roles, so the shell shows the navigation each role needs."""
    return {"user_roles": user_roles(getattr(request, "user", None))}
