"""Roles and object access: the ONE place that decides what a user may see or do.

Every view and API scopes its queryset through this module. Object permissions are granted
on a ``System`` (to a user, or to a team's group) and everything under the system inherits
them. An object the user may not see is a 404, never a 403, so ids of other teams' objects
leak nothing.
"""

from __future__ import annotations

from django.contrib.auth.models import AnonymousUser, Group
from django.db.models import Model, QuerySet
from django.http import Http404
from guardian.shortcuts import get_objects_for_user

from catalog.models import System

ROLE_EXECUTIVE = "executive"
ROLE_SRE = "sre"
ROLE_DATA_SCIENTIST = "data_scientist"
ROLE_PLATFORM = "platform"
ROLE_CATALOG_ADMIN = "catalog_admin"
ROLES = (ROLE_EXECUTIVE, ROLE_SRE, ROLE_DATA_SCIENTIST, ROLE_PLATFORM, ROLE_CATALOG_ADMIN)

VIEW = "view_system"
INGEST = "ingest"
MANAGE_ALERTS = "manage_alerts"
VIEW_SENSITIVE = "view_sensitive"
CHANGE = "change_system"
SYSTEM_PERMISSIONS = (VIEW, INGEST, MANAGE_ALERTS, VIEW_SENSITIVE, CHANGE)

# How to reach the owning system from each scoped model (a Django lookup path). A model not
# listed here cannot be scoped, and scoping it raises: a new model must be added on purpose.
SYSTEM_PATHS: dict[str, str] = {
    "catalog.system": "",
    "catalog.model": "system",
    "catalog.modelversion": "model__system",
    "catalog.environment": "system",
    "catalog.deployment": "environment__system",
    "catalog.feature": "model__system",
    "catalog.cohortattribute": "model__system",
}


def register_system_path(model: type[Model], path: str) -> None:
    """Apps that add system-owned models declare how to reach the system (in AppConfig.ready)."""
    SYSTEM_PATHS[model._meta.label_lower] = path


def user_roles(user) -> set[str]:
    if not getattr(user, "is_authenticated", False):
        return set()
    if user.is_superuser:
        return set(ROLES)
    cached = getattr(user, "_healthboard_roles", None)
    if cached is None:
        cached = set(user.groups.filter(name__in=ROLES).values_list("name", flat=True))
        user._healthboard_roles = cached
    return cached


def has_role(user, role: str) -> bool:
    return role in user_roles(user)


def is_catalog_admin(user) -> bool:
    return has_role(user, ROLE_CATALOG_ADMIN)


def systems_for(user, perm: str = VIEW) -> QuerySet[System]:
    """Systems on which ``user`` holds ``perm``, directly, through a group, or globally."""
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return System.objects.none()
    if user.is_superuser:
        return System.objects.all()
    return get_objects_for_user(
        user, f"catalog.{perm}", klass=System, accept_global_perms=True, with_superuser=True
    )


def system_ids_for(user, perm: str = VIEW) -> set[int]:
    """The ids of the systems ``user`` may act on; memoised on the user for one request."""
    cache = getattr(user, "_healthboard_system_ids", None)
    if cache is None:
        cache = {}
        if not isinstance(user, AnonymousUser):
            user._healthboard_system_ids = cache
    if perm not in cache:
        cache[perm] = set(systems_for(user, perm).values_list("id", flat=True))
    return cache[perm]


def scope(queryset: QuerySet, user, perm: str = VIEW) -> QuerySet:
    """Restrict any system-owned queryset to the rows ``user`` may act on with ``perm``."""
    label = queryset.model._meta.label_lower
    if label not in SYSTEM_PATHS:
        raise LookupError(f"{label} has no system path in healthboard.access.SYSTEM_PATHS")
    path = SYSTEM_PATHS[label]
    if getattr(user, "is_superuser", False) and user.is_active:
        return queryset
    ids = system_ids_for(user, perm)
    lookup = f"{path}__id__in" if path else "id__in"
    return queryset.filter(**{lookup: ids})


def get_for_user(queryset: QuerySet, user, perm: str = VIEW, **lookup):
    """The object matching ``lookup`` if ``user`` holds ``perm`` on its system, else 404."""
    try:
        return scope(queryset, user, perm).get(**lookup)
    except (queryset.model.DoesNotExist, ValueError, TypeError):
        raise Http404(f"No {queryset.model._meta.verbose_name} matches the given query.") from None


def system_of(obj) -> System:
    label = obj._meta.label_lower
    path = SYSTEM_PATHS[label]
    current = obj
    for part in path.split("__") if path else []:
        current = getattr(current, part)
    return current


def has_perm(user, obj, perm: str) -> bool:
    """Does ``user`` hold ``perm`` on the system that owns ``obj``?"""
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return False
    system = system_of(obj)
    return system.id in system_ids_for(user, perm)


def require(user, obj, perm: str) -> None:
    """404 when the object is invisible to the user; PermissionDenied when visible but the
    action is not allowed (the user already knows the object exists)."""
    from django.core.exceptions import PermissionDenied

    if not has_perm(user, obj, VIEW):
        raise Http404("Not found.")
    if perm != VIEW and not has_perm(user, obj, perm):
        raise PermissionDenied(f"You lack the {perm} permission on this system.")


def grant(system: System, perms: list[str], *, user=None, group: Group | None = None) -> None:
    """Give a user or a group (a team's group) ``perms`` on ``system``."""
    from guardian.shortcuts import assign_perm

    target = user if user is not None else group
    for perm in perms:
        assign_perm(f"catalog.{perm}", target, system)
    forget_cached_access(user)


def revoke(system: System, perms: list[str], *, user=None, group: Group | None = None) -> None:
    from guardian.shortcuts import remove_perm

    target = user if user is not None else group
    for perm in perms:
        remove_perm(f"catalog.{perm}", target, system)
    forget_cached_access(user)


def forget_cached_access(user) -> None:
    if user is not None:
        for attr in ("_healthboard_system_ids", "_healthboard_roles", "_perm_cache", "_user_perm_cache"):
            if hasattr(user, attr):
                delattr(user, attr)
